"""One writer per output format, each over the result model (grader.results)."""
