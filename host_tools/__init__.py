"""spinet host tools (CPython only): deploy, REPL connect test, virtual board, pcap, benchmarks."""
