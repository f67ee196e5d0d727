"""Host side of the accelerator: the board driver (rtl.host.driver)."""
