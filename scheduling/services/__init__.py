"""Job rules, one module per topic: jobs (create, status moves, order scheduling), dispatch."""
