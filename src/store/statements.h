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
 * ties go to the node with the most room left (available), then to the
 * lowest id.  Mozilla's query names no tie-break, so its answer among
 * equals is the table's storage order; its own suite (test_user_creation)
 * relies on an empty node with room beating emptier-looking nodes that
 * have little or none left, which "available DESC" says outright.  "<= 0" where Mozilla has "= 0": a load set
 * below zero by hand must not make LN() fail every first request
 * (PostgreSQL refuses the logarithm of a negative number).
 */
SQLDB_STMT(NODE_BEST,
    "SELECT id, node FROM nodes WHERE service = ? AND available > 0 "
    "AND capacity > current_load AND downed = 0 AND backoff = 0 "
    "ORDER BY CASE WHEN current_load <= 0 THEN -1 "
    "ELSE LN(current_load) / LN(capacity) END, available DESC, id "
    "LIMIT 1")

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

/* (service) -> id, pattern: reuse SERVICE_GET.  Every service: */
SQLDB_STMT(ADMIN_SERVICES,
    "SELECT id, service FROM services ORDER BY id")

/*
 * (service text or "", same) -> the nodes, each with how many current
 * records it holds.  Columns: service, service id, id, node, available,
 * current_load, capacity, downed, backoff, users.
 */
SQLDB_STMT(ADMIN_NODES,
    "SELECT services.service, nodes.service, nodes.id, nodes.node, "
    "nodes.available, nodes.current_load, nodes.capacity, nodes.downed, "
    "nodes.backoff, (SELECT COUNT(*) FROM users WHERE users.nodeid = "
    "nodes.id AND users.replaced_at IS NULL) "
    "FROM nodes LEFT OUTER JOIN services ON services.id = nodes.service "
    "WHERE CAST(? AS TEXT) = '' OR services.service = ? "
    "ORDER BY services.service, nodes.node")

/* (service id, node) -> the same columns, for one node */
SQLDB_STMT(ADMIN_NODE_GET,
    "SELECT services.service, nodes.service, nodes.id, nodes.node, "
    "nodes.available, nodes.current_load, nodes.capacity, nodes.downed, "
    "nodes.backoff, (SELECT COUNT(*) FROM users WHERE users.nodeid = "
    "nodes.id AND users.replaced_at IS NULL) "
    "FROM nodes LEFT OUTER JOIN services ON services.id = nodes.service "
    "WHERE nodes.service = ? AND nodes.node = ?")

/* (service id, node, available, current_load, capacity, downed, backoff) */
SQLDB_STMT(ADMIN_NODE_INSERT,
    "INSERT INTO nodes (service, node, available, current_load, capacity, "
    "downed, backoff) VALUES (?, ?, ?, ?, ?, ?, ?)")

/*
 * (capacity, available, current_load, downed, backoff, each NULL to keep;
 * node id)
 */
SQLDB_STMT(ADMIN_NODE_UPDATE,
    "UPDATE nodes SET capacity = COALESCE(CAST(? AS BIGINT), capacity), "
    "available = COALESCE(CAST(? AS BIGINT), available), "
    "current_load = COALESCE(CAST(? AS BIGINT), current_load), "
    "downed = COALESCE(CAST(? AS BIGINT), downed), "
    "backoff = COALESCE(CAST(? AS BIGINT), backoff) WHERE id = ?")

/* (replaced_at, node id): Mozilla's unassign_node, current records only */
SQLDB_STMT(ADMIN_NODE_UNASSIGN,
    "UPDATE users SET replaced_at = ? WHERE nodeid = ? "
    "AND replaced_at IS NULL")

/* (node id) */
SQLDB_STMT(ADMIN_NODE_DELETE, "DELETE FROM nodes WHERE id = ?")

/*
 * (email, service text or "", same) -> every record of the user.
 * Columns: service, service id, uid, email, node, nodeid, generation,
 * keys_changed_at, client_state, created_at, replaced_at.
 */
SQLDB_STMT(ADMIN_USER_SHOW,
    "SELECT services.service, users.service, users.uid, users.email, "
    "nodes.node, users.nodeid, users.generation, users.keys_changed_at, "
    "users.client_state, users.created_at, users.replaced_at "
    "FROM users LEFT OUTER JOIN services ON services.id = users.service "
    "LEFT OUTER JOIN nodes ON nodes.id = users.nodeid "
    "WHERE users.email = ? AND (CAST(? AS TEXT) = '' "
    "OR services.service = ?) "
    "ORDER BY services.service, users.created_at, users.uid")

/*
 * (replaced_at, generation, email, service text or "", same): Mozilla's
 * retire_user
 */
SQLDB_STMT(ADMIN_USER_RETIRE,
    "UPDATE users SET replaced_at = ?, generation = ? "
    "WHERE email = ? AND replaced_at IS NULL AND (CAST(? AS TEXT) = '' "
    "OR service IN (SELECT id FROM services WHERE service = ?))")

/*
 * (service id, replaced before, uid after, limit) -> a batch of records
 * to purge, in uid order.  Columns as ADMIN_USER_SHOW's.
 */
SQLDB_STMT(ADMIN_PURGE_BATCH,
    "SELECT services.service, users.service, users.uid, users.email, "
    "nodes.node, users.nodeid, users.generation, users.keys_changed_at, "
    "users.client_state, users.created_at, users.replaced_at "
    "FROM users LEFT OUTER JOIN services ON services.id = users.service "
    "LEFT OUTER JOIN nodes ON nodes.id = users.nodeid "
    "WHERE users.service = ? AND users.replaced_at IS NOT NULL "
    "AND users.replaced_at < ? AND users.uid > ? "
    "ORDER BY users.uid LIMIT ?")

/* (uid, replaced before): the record, if it still qualifies */
SQLDB_STMT(ADMIN_PURGE_DELETE,
    "DELETE FROM users WHERE uid = ? AND replaced_at IS NOT NULL "
    "AND replaced_at < ?")

/* (service id, email, node id) -> how many records of the user are on it */
SQLDB_STMT(ADMIN_USER_ON_NODE,
    "SELECT COUNT(*) FROM users WHERE service = ? AND email = ? "
    "AND nodeid = ?")

/* (node id): Mozilla's free_slot_on_node, never below an empty node */
SQLDB_STMT(ADMIN_NODE_FREE_SLOT,
    "UPDATE nodes SET current_load = current_load - 1, "
    "available = CASE WHEN available <= capacity - current_load "
    "THEN available + 1 ELSE available END "
    "WHERE id = ? AND current_load > 0")

/* -> services, nodes, current records, replaced records */
SQLDB_STMT(ADMIN_COUNTS,
    "SELECT (SELECT COUNT(*) FROM services), (SELECT COUNT(*) FROM nodes), "
    "(SELECT COUNT(*) FROM users WHERE replaced_at IS NULL), "
    "(SELECT COUNT(*) FROM users WHERE replaced_at IS NOT NULL)")

/* -> (service, email) pairs with several current records; nodeless
 * current records; nodes loaded past their capacity */
SQLDB_STMT(ADMIN_ANOMALIES,
    "SELECT (SELECT COUNT(*) FROM (SELECT users.service, users.email "
    "FROM users WHERE users.replaced_at IS NULL "
    "GROUP BY users.service, users.email HAVING COUNT(*) > 1) dups), "
    "(SELECT COUNT(*) FROM users WHERE users.replaced_at IS NULL AND "
    "NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.id = users.nodeid)), "
    "(SELECT COUNT(*) FROM nodes WHERE current_load > capacity)")

/* (index name) -> 1 row when the users table has it, per backend */
SQLDB_STMT(ADMIN_INDEX_SQLITE,
    "SELECT 1 FROM sqlite_master WHERE type = 'index' "
    "AND tbl_name = 'users' AND name = ?")
SQLDB_STMT(ADMIN_INDEX_POSTGRES,
    "SELECT 1 FROM pg_indexes WHERE tablename = 'users' "
    "AND indexname = CAST(? AS TEXT)")
