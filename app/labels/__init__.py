"""Labels (issue 22): parent code series, PDF sheets, ZPL for Zebra printers, reprints."""
