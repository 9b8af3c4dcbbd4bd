"""`mtasts check`: what sending servers see, probed from the outside and judged strictly."""
