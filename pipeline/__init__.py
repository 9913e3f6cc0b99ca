"""handbook: interview-preparation Markdown to a PDF handbook, EPUB/HTML and Anki decks."""
