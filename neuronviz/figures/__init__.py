"""Figure builders: pure functions from results to plotly figures, and text made safe to show."""
