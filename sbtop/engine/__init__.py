"""The pure core: samples in, judged figures out. No I/O, no Textual, no clock of its own."""
