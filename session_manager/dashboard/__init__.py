"""The operator's dashboard (`GET /dashboard`): one page served by the manager itself.

`router` (page, assets, login, JSON API) and the background `sampler` (15-minute ring of
metric samples, engine reachability, container memory); `cookie` holds the login rules the
manager's middleware applies. Imports nothing here, so importing `cookie` stays cheap.
"""
