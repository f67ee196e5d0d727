"""archsim: cycle-accurate simulator of a sparse BNN accelerator (see docs/architecture.md)."""
