"""The live dashboard at ``/``: server-rendered HTML, live over the event stream.

Reading works without JavaScript: every view is rendered on the server, and
a key-protected town asks once for its API key (kept in a session cookie,
``HttpOnly``, ``SameSite=Strict``). With JavaScript, ``dashboard.js`` follows
``/v1/events/stream`` and re-renders the views from one read of the page per
burst of events (``/dashboard/fragment/<view>`` serves a single view);
actions call the REST routes with the same key (kept in ``sessionStorage``),
so they have the REST API's auth, scopes and audit. A key without
``town.write``/``agent.manage`` sees no actions.
"""

from tinytown.townhall.dashboard.routes import bp

__all__ = ["bp"]
