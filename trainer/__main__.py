import sys


def main() -> int:
    """`python -m trainer` / `archsim-train`: one clear line when the [train] extra is missing."""
    try:
        from .cli import main as cli_main
    except ModuleNotFoundError as exc:
        if exc.name not in ("torch", "sklearn"):
            raise
        print(f"trainer: error: {exc.name} is not installed: pip install 'bnn-archsim[train]'", file=sys.stderr)
        return 2
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
