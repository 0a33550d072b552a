"""Web pages (server-rendered) and the JSON API."""
