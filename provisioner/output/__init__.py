"""Ways to show a plan: coloured text for terminals, Markdown for pull requests, JSON."""
