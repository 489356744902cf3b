"""The console: server-rendered pages for people (functions/console), from the same services as the
API. `app` builds the web application, `session` says who is signed in, `pages` holds the pages."""
