"""The quality of one component on its own labelled set, run by hand: answers, extractive answers, the PII
redactor, the injection filter."""
