"""The nightly evaluation: the run, the Ragas suite, the report and the history with its regression verdict."""
