-- registry 0004: API routes (wsk api). The gateway serves /api/{namespace}{basepath}{relpath}
-- for method by running the web action action_ns/[action_pkg/]action_name with the
-- extension response_type. An API is the routes of one (namespace, basepath); api_name is
-- the API's name, the same on each of its routes. The action lives in the route's own
-- namespace (checked by the registry when the route is written).
CREATE TABLE registry_routes (
    namespace     text NOT NULL,
    basepath      text NOT NULL,     -- "/" or "/a[/b...]"
    relpath       text NOT NULL,     -- "/x[/{param}...]"
    method        text NOT NULL CHECK (method IN ('get', 'put', 'post', 'delete', 'patch', 'head', 'options')),
    api_name      text NOT NULL,
    action_ns     text NOT NULL,
    action_pkg    text NOT NULL,     -- '' for an action in no package
    action_name   text NOT NULL,
    response_type text NOT NULL CHECK (response_type IN ('http', 'json', 'html', 'svg', 'text')),
    updated       bigint NOT NULL,   -- ms since epoch
    PRIMARY KEY (namespace, basepath, relpath, method)
);
