use pretty_assertions::assert_eq;

use super::*;
use crate::store::db::Store;

fn store_with_projects() -> Store {
    let store = Store::open_in_memory().unwrap();
    store
        .conn()
        .execute_batch(
            "INSERT INTO projects (id, canonical_path, display_path, display_name, kind, \
             created_at, last_seen_at) VALUES ('p_a', X'2f61', '/a', 'a', 'git', 't', 't'), \
             ('p_b', X'2f62', '/b', 'b', 'git', 't', 't');",
        )
        .unwrap();
    store
}

fn insert(store: &Store, id: &str, project: Option<&str>, summary: &str) {
    store
        .conn()
        .execute(
            "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, \
             normalized, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'rule', ?4, '', ?1, 't', '2026-11-20T10:00:00Z')",
            rusqlite::params![
                id,
                if project.is_some() { "project" } else { "user" },
                project,
                summary
            ],
        )
        .unwrap();
}

fn rows(store: &Store) -> Vec<(String, i64)> {
    let mut stmt = store
        .conn()
        .prepare("SELECT scope_key, entries FROM start_index ORDER BY scope_key")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Both stored bodies, copied, when every row asked for is there.
fn bodies(store: &Store, project_id: Option<&str>) -> Option<(Vec<u8>, Vec<u8>)> {
    with_bodies(store.conn(), project_id, |u, p| (u.to_vec(), p.to_vec())).unwrap()
}

fn keys(store: &Store) -> Vec<String> {
    rows(store).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn refresh_builds_every_scope_once_with_its_ranked_entries() {
    let store = store_with_projects();
    insert(&store, "m_u1", None, "user rule");
    insert(&store, "m_a1", Some("p_a"), "project a rule");
    insert(&store, "m_a2", Some("p_a"), "another a rule");
    assert_eq!(refresh_now(store.conn(), "now").unwrap(), 3);
    assert_eq!(
        rows(&store),
        [
            ("project:p_a".to_owned(), 2),
            ("project:p_b".to_owned(), 0),
            ("user".to_owned(), 1)
        ]
    );
    // Nothing changed: nothing to rebuild.
    assert_eq!(refresh_now(store.conn(), "now").unwrap(), 0);
    let (user, project) = bodies(&store, Some("p_a")).unwrap();
    let user = decode(&user).unwrap();
    assert_eq!(user.len(), 1);
    assert_eq!(user[0].id, "m_u1");
    let line = user[0].text().unwrap();
    assert_eq!(line, "- [m_u1] rule: \"user rule\" (added on 2026-11-20)\n");
    assert_eq!(
        user[0].tokens,
        u32::try_from(crate::llm::estimate_tokens(line)).unwrap()
    );
    let ids: Vec<_> = decode(&project).unwrap().iter().map(|l| l.id).collect();
    // Same usage and date: ranked by id.
    assert_eq!(ids, ["m_a1", "m_a2"]);
    assert_eq!(stored_entries(store.conn(), Some("p_b")).unwrap(), Some(0));
}

#[test]
fn a_change_to_an_entry_invalidates_exactly_its_scope() {
    let store = store_with_projects();
    insert(&store, "m_u1", None, "user rule");
    insert(&store, "m_a1", Some("p_a"), "project a rule");
    let conn = store.conn();
    let all = ["project:p_a", "project:p_b", "user"];
    let rebuilt = || {
        refresh_now(conn, "now").unwrap();
        assert_eq!(keys(&store), all);
    };
    rebuilt();
    // Columns that decide showing, rank or rendering invalidate.
    for change in [
        "UPDATE memory_entries SET use_count = use_count + 1 WHERE id = 'm_a1'",
        "UPDATE memory_entries SET pinned = 1 WHERE id = 'm_a1'",
        "UPDATE memory_entries SET summary = 'changed' WHERE id = 'm_a1'",
        "UPDATE memory_entries SET content = 'details' WHERE id = 'm_a1'",
        "UPDATE memory_entries SET provenance = '{\"sessions\":[\"s\"]}' WHERE id = 'm_a1'",
        "UPDATE memory_entries SET status = 'forgotten' WHERE id = 'm_a1'",
        "UPDATE memory_entries SET updated_at = '2026-11-21' WHERE id = 'm_a1'",
        "UPDATE memory_entries SET kind = 'fact' WHERE id = 'm_a1'",
    ] {
        conn.execute(change, []).unwrap();
        assert_eq!(keys(&store), ["project:p_b", "user"], "{change}");
        rebuilt();
    }
    // Bookkeeping columns do not.
    conn.execute(
        "UPDATE memory_entries SET last_injected_at = 'x', last_used_at = 'y' WHERE id = 'm_a1'",
        [],
    )
    .unwrap();
    assert_eq!(keys(&store), all);
    // Moving an entry between scopes invalidates both.
    conn.execute(
        "UPDATE memory_entries SET project_id = 'p_b' WHERE id = 'm_a1'",
        [],
    )
    .unwrap();
    assert_eq!(keys(&store), ["user"]);
    rebuilt();
    insert(&store, "m_u2", None, "second user rule");
    assert_eq!(keys(&store), ["project:p_a", "project:p_b"]);
    rebuilt();
    conn.execute("DELETE FROM memory_entries WHERE id = 'm_a1'", [])
        .unwrap();
    assert_eq!(keys(&store), ["project:p_a", "user"]);
    rebuilt();
    // Deleting a project deletes its entries, which invalidates its row.
    insert(&store, "m_b1", Some("p_b"), "b rule");
    rebuilt();
    conn.execute("DELETE FROM projects WHERE id = 'p_b'", [])
        .unwrap();
    assert_eq!(keys(&store), ["project:p_a", "user"]);
}

#[test]
fn load_needs_every_row_asked_for_of_the_current_format() {
    let store = store_with_projects();
    insert(&store, "m_u1", None, "user rule");
    let conn = store.conn();
    assert_eq!(bodies(&store, None), None);
    refresh_now(conn, "now").unwrap();
    let (user, project) = bodies(&store, None).unwrap();
    assert_eq!((decode(&user).unwrap().len(), project.len()), (1, 0));
    let (_, project) = bodies(&store, Some("p_a")).unwrap();
    assert_eq!(decode(&project), Some(Vec::new()));
    // A project seen after the last rebuild has no row yet.
    assert_eq!(bodies(&store, Some("p_new")), None);
    conn.execute("DELETE FROM start_index WHERE scope_key = 'user'", [])
        .unwrap();
    assert_eq!(bodies(&store, Some("p_a")), None);
    refresh_now(conn, "now").unwrap();
    conn.execute("UPDATE start_index SET format = format + 1", [])
        .unwrap();
    assert_eq!(bodies(&store, Some("p_a")), None);
    // Rows of another format are rebuilt.
    assert_eq!(refresh_now(conn, "now").unwrap(), 3);
    assert!(bodies(&store, Some("p_a")).is_some());
}

#[test]
fn each_scope_keeps_at_most_max_candidates() {
    let store = store_with_projects();
    let conn = store.conn();
    conn.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
         INSERT INTO memory_entries (id, scope, kind, summary, content, normalized, created_at, \
         updated_at) SELECT printf('m_%04d', i), 'user', 'rule', 'r' || i, '', i, 't', 't' \
         FROM n;",
        MAX_CANDIDATES + 5
    ))
    .unwrap();
    refresh_now(conn, "now").unwrap();
    assert_eq!(stored_entries(conn, None).unwrap(), Some(MAX_CANDIDATES));
    let (user, _) = bodies(&store, None).unwrap();
    assert_eq!(
        decode(&user).unwrap().len(),
        usize::try_from(MAX_CANDIDATES).unwrap()
    );
}

#[test]
fn malformed_bodies_decode_to_none() {
    let mut body = Vec::new();
    encode_line(&mut body, "m_1", "- [m_1] rule: \"x\"\n", 5);
    assert_eq!(decode(&body).unwrap().len(), 1);
    for cut in 1..body.len() {
        assert_eq!(decode(&body[..cut]), None, "cut at {cut}");
    }
    // A damaged id fails the body; a damaged line is found when the line is used.
    let mut bad_id = body.clone();
    bad_id[RECORD_HEADER] = 0xff;
    assert_eq!(decode(&bad_id), None);
    let mut bad_line = body.clone();
    let last = bad_line.len() - 1;
    bad_line[last] = 0xff;
    assert_eq!(decode(&bad_line).unwrap()[0].text(), None);
    assert_eq!(decode(&[]), Some(Vec::new()));
}

proptest::proptest! {
    /// Whatever the entries, a body decodes to exactly what was encoded, in order.
    #[test]
    fn bodies_round_trip(
        entries in proptest::collection::vec(
            ("[a-z_0-9]{0,20}", "\\PC{0,200}", proptest::num::u32::ANY),
            0..20,
        ),
    ) {
        let mut body = Vec::new();
        for (id, line, tokens) in &entries {
            encode_line(&mut body, id, line, *tokens);
        }
        let decoded: Vec<_> = decode(&body)
            .unwrap()
            .iter()
            .map(|l| (l.id.to_owned(), l.text().unwrap().to_owned(), l.tokens))
            .collect();
        proptest::prop_assert_eq!(decoded, entries);
    }
}
