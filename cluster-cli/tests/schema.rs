//! `cluster schema check` and `cluster schema export`.

mod support;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use support::{INTEROP, cluster, fixture};

#[test]
fn check_lists_each_message_and_its_response() {
    cluster()
        .args(["schema", "check", INTEROP])
        .assert()
        .success()
        .stdout(
            contains("9 messages; responses: as the schema's `# Responses:` declares")
                .and(contains("  ping 0x01 -> pong\n"))
                .and(contains("  pong 0x02 response of ping\n"))
                .and(contains("  notify 0x07 one-way\n")),
        );
    cluster()
        .args(["schema", "check", &fixture("no-pairing.zproto")])
        .assert()
        .success()
        .stdout(
            contains("the message tagged one higher").and(contains("  notify 0x07 -> stats\n")),
        );
}

#[test]
fn check_reports_line_and_column_and_exits_1() {
    let bad = fixture("bad.zproto");
    cluster()
        .args(["schema", "check", &bad])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "cluster: {bad}:4:15: field tag 1 must be greater than the previous tag 2\n"
        ));
}

#[test]
fn check_rejects_a_declaration_naming_a_missing_message() {
    let bad = fixture("bad-pairing.zproto");
    cluster()
        .args(["schema", "check", &bad])
        .assert()
        .code(1)
        .stderr(format!(
            "cluster: {bad}:1:26: no message 'add' in the schema\n"
        ));
}

#[test]
fn check_of_an_unreadable_file_is_a_usage_error() {
    cluster()
        .args(["schema", "check", &fixture("missing.zproto")])
        .assert()
        .code(2)
        .stderr(contains("missing.zproto"));
}

#[test]
fn export_is_canonical_and_reads_back_the_same() {
    let output = cluster()
        .args(["schema", "export", INTEROP])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(
        text.starts_with("# Responses: ping->pong, add->sum, sleep->slept, stats->counts\n"),
        "{text}"
    );
    assert!(
        text.contains("add 3 {\n\t.a:int32 1\n\t.b:int32 2\n}\n"),
        "aliases become preferred names: {text}"
    );
    let original = cluster_codec::zproto::Schema::parse(include_str!(
        "../../examples/silly_interop/interop.zproto"
    ))
    .expect("parses");
    assert_eq!(cluster_codec::zproto::Schema::parse(&text), Ok(original));
}

#[test]
fn check_tells_types_from_commands() {
    cluster()
        .args(["schema", "check", &fixture("untagged.zproto")])
        .assert()
        .success()
        .stdout(
            contains("  point 0x00 no tag: a type, not a command\n")
                .and(contains("  move 0x10 one-way\n")),
        );
}
