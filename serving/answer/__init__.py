"""The answer path: question -> parts -> retrieval -> a cited answer, generated or extractive, each sentence
verified."""
