"""Verilog generator for the BNN accelerator (python rtl/gen.py) and its register map."""
