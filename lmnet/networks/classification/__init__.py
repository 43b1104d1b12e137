"""Classification networks."""
