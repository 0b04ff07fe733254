"""The web dashboard (`mlmon dashboard`): a WSGI app, its JSON API and static assets."""
