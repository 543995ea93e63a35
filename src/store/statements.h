/*
 * statements.h - every SQL statement of the node-assignment database, one
 * line each: SQLDB_STMT(NAME, "SQL").  sqldb.h turns the names into enum
 * sqldb_stmt (SQLDB_NAME), sqldb.c the texts into its table; no include
 * guard, on purpose.  How to write one: sqldb.h, at the top.
 *
 * The tables are Mozilla's (docs/nodes.md):
 *   services(id, service, pattern)
 *   nodes(id, service, node, available, current_load, capacity, downed,
 *         backoff)
 *   users(uid, service, email, generation, client_state, created_at,
 *         replaced_at, nodeid, keys_changed_at)
 * Each section belongs to the file named in its heading; add a statement
 * at the end of its section.
 */

/* ---- sqldb.c: the schema and liveness -------------------------------- */

SQLDB_STMT(PING, "SELECT 1")
/* Mozilla's columns, each table's in order: fails when one is missing. */
SQLDB_STMT(CHECK_SERVICES,
    "SELECT id, service, pattern FROM services WHERE 1 = 0")
SQLDB_STMT(CHECK_NODES,
    "SELECT id, service, node, available, current_load, capacity, downed, "
    "backoff FROM nodes WHERE 1 = 0")
SQLDB_STMT(CHECK_USERS,
    "SELECT uid, service, email, generation, client_state, created_at, "
    "replaced_at, nodeid, keys_changed_at FROM users WHERE 1 = 0")

/* ---- users.c: Mozilla's per-request rules ---------------------------- */

/* (service) -> id, pattern */
SQLDB_STMT(SERVICE_GET,
    "SELECT id, pattern FROM services WHERE service = ?")

/*
 * (email, service id) -> the user's records, newest first (Mozilla's
 * get_users: at most 20); node is NULL when nodeid names no node.
 * Columns: uid, node, generation, keys_changed_at, client_state,
 * created_at, replaced_at, nodeid, and the service's pattern (read with
 * the records, so that a returning user costs one statement).
 */
SQLDB_STMT(USERS_GET,
    "SELECT users.uid, nodes.node, users.generation, users.keys_changed_at, "
    "users.client_state, users.created_at, users.replaced_at, users.nodeid, "
    "services.pattern "
    "FROM users LEFT OUTER JOIN nodes ON users.nodeid = nodes.id "
    "LEFT OUTER JOIN services ON users.service = services.id "
    "WHERE users.email = ? AND users.service = ? "
    "ORDER BY users.created_at DESC, users.uid DESC LIMIT 20")

/* (replaced_at, service id, uid): Mozilla's replace_user */
SQLDB_STMT(USER_REPLACE,
    "UPDATE users SET replaced_at = ? WHERE service = ? AND uid = ?")

/*
 * (replaced_at, service id, email, uid of the new record): every other
 * current record of the user (Mozilla's replace_users, keyed by the new
 * record instead of created_at, so one created in the same millisecond
 * is not missed).
 */
SQLDB_STMT(USERS_REPLACE_OTHERS,
    "UPDATE users SET replaced_at = ? WHERE service = ? AND email = ? "
    "AND replaced_at IS NULL AND uid <> ?")

/*
 * (service id, email, generation, client_state, created_at, nodeid,
 * keys_changed_at or NULL) -> uid: Mozilla's post_user
 */
SQLDB_STMT(USER_INSERT,
    "INSERT INTO users (service, email, generation, client_state, "
    "created_at, nodeid, keys_changed_at, replaced_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, NULL) RETURNING uid")

/*
 * (generation, keys_changed_at or NULL, service id, email, generation,
 * keys_changed_at or NULL): Mozilla's put_user; the WHERE keeps a
 * concurrent update from moving either value backwards.
 */
SQLDB_STMT(USER_UPDATE,
    "UPDATE users SET generation = ?, keys_changed_at = ? "
    "WHERE service = ? AND email = ? AND generation <= ? "
    "AND COALESCE(keys_changed_at, 0) <= COALESCE(?, keys_changed_at, 0) "
    "AND replaced_at IS NULL")

/*
 * (service id) -> id, node: Mozilla's get_best_node, the least loaded
 * (by log(load) / log(capacity)) node with room, up, not backed off;
 * ties go to the lowest id.
 */
SQLDB_STMT(NODE_BEST,
    "SELECT id, node FROM nodes WHERE service = ? AND available > 0 "
    "AND capacity > current_load AND downed = 0 AND backoff = 0 "
    "ORDER BY CASE WHEN current_load = 0 THEN -1 "
    "ELSE LN(current_load) / LN(capacity) END, id LIMIT 1")

/*
 * (release rate in millionths, same, service id): Mozilla's capacity
 * release, available = min(capacity x rate, capacity - current_load) on
 * every full node that is up, in integers (rounded half up) so both
 * backends compute the same value.
 */
SQLDB_STMT(NODES_RELEASE,
    "UPDATE nodes SET available = CASE "
    "WHEN (capacity * CAST(? AS BIGINT) + 500000) / 1000000 "
    "< capacity - current_load "
    "THEN (capacity * CAST(? AS BIGINT) + 500000) / 1000000 "
    "ELSE capacity - current_load END "
    "WHERE service = ? AND available <= 0 AND capacity > current_load "
    "AND downed = 0")

/* (service id, node id): Mozilla's add_user_to_node */
SQLDB_STMT(NODE_ADD_USER,
    "UPDATE nodes SET current_load = current_load + 1, "
    "available = CASE WHEN available > 0 THEN available - 1 ELSE 0 END "
    "WHERE service = ? AND id = ?")

/* ---- users.c: users_bootstrap ---------------------------------------- */

/* (service, pattern) */
SQLDB_STMT(SERVICE_INSERT,
    "INSERT INTO services (service, pattern) VALUES (?, ?) "
    "ON CONFLICT (service) DO NOTHING")

/* (pattern, service): a row made without one (the column is nullable) */
SQLDB_STMT(SERVICE_SET_PATTERN,
    "UPDATE services SET pattern = ? WHERE service = ? AND pattern IS NULL")

/* (service id, node, capacity, capacity): a node that is not there yet */
SQLDB_STMT(NODE_INSERT_MISSING,
    "INSERT INTO nodes (service, node, available, current_load, capacity, "
    "downed, backoff) VALUES (?, ?, ?, 0, ?, 0, 0) "
    "ON CONFLICT (service, node) DO NOTHING")

/* ---- admin.c: tokenctl node, user and db ------------------------------ */
