"""Who is asking: access tokens verified with auth's keys, and the access level of each route."""
