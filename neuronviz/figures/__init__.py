"""Figure builders: pure functions from results to plotly figures (or escaped HTML).

Nothing here imports streamlit; the dashboard pages only call these and display what they
return. ``style`` holds the look they share.
"""
