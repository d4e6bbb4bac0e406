"""``python -m metronome.cli``: how `metronome serve` starts its children, and the tests."""

from metronome.cli import main

main()
