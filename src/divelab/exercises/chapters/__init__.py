"""The exercises of each chapter, one module per chapter of CATALOG.md."""
