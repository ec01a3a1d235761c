"""What the Streamlit dashboard needs outside its pages: the background job queue and the server."""
