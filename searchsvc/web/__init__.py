"""web/: how do sites and readers reach it? The Flask app, the JSON API and the pages."""
