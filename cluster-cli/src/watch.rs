//! `cluster watch`: the directory, then each change to it as it happens:
//! a node joined, left, or changed (a new address, a restart's new epoch,
//! other services...).

use std::collections::BTreeSet;
use std::future::{Future as _, poll_fn};
use std::io::{self, Write as _};
use std::pin::pin;
use std::task::Poll;

use cluster_membership::{Directory, NodeRecord};
use serde::Serialize;

use crate::exit::Error;
use crate::{WatchArgs, show, source};

/// One difference between two snapshots of the directory.
#[derive(Debug, PartialEq)]
enum Change<'a> {
    Joined(&'a NodeRecord),
    Left(&'a NodeRecord),
    Changed {
        was: &'a NodeRecord,
        now: &'a NodeRecord,
    },
}

/// A line of `--json` output.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event<'a> {
    /// The directory when the watch began.
    Directory {
        nodes: Vec<show::Entry<'a>>,
    },
    Joined {
        node: show::Entry<'a>,
    },
    Left {
        node: show::Entry<'a>,
    },
    Changed {
        node: show::Entry<'a>,
        was: show::Entry<'a>,
    },
}

/// Prints the directory, then its changes until Ctrl-C or `--count`.
pub async fn run(args: WatchArgs) -> Result<(), Error> {
    let membership = source::open(&args.source).await?;
    let result = follow(&args, membership.watch()).await;
    membership.shutdown().await;
    result
}

async fn follow(
    args: &WatchArgs,
    mut watch: cluster_membership::DirectoryWatch,
) -> Result<(), Error> {
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    // tokio installs the handler at the first poll: polled before anything
    // prints, a Ctrl-C from then on ends the watch instead of killing it.
    if let Poll::Ready(installed) = poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await {
        return Ok(installed?);
    }
    let mut shown = watch.borrow_and_update().clone();
    let mut out = io::stdout().lock();
    if args.json {
        let first = Event::Directory {
            nodes: show::entries(&shown),
        };
        writeln!(out, "{}", show::to_json(&first))?;
    } else {
        for record in shown.iter() {
            writeln!(out, "{}", show::line(record))?;
        }
        eprintln!(
            "watching {} ({} nodes); Ctrl-C stops",
            source::describe(&args.source),
            shown.len()
        );
    }
    let mut left = args.count;
    while left != Some(0) {
        tokio::select! {
            changed = watch.changed() => {
                // The backend went away (it does not while the membership
                // lives): nothing more can come.
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = &mut ctrl_c => return Ok(()),
        }
        let next = watch.borrow_and_update().clone();
        for change in changes(&shown, &next) {
            if left == Some(0) {
                break;
            }
            let text = if args.json {
                show::to_json(&event(&change))
            } else {
                to_line(&change)
            };
            writeln!(out, "{text}")?;
            left = left.map(|n| n - 1);
        }
        shown = next;
    }
    Ok(())
}

/// What differs from `old` to `new`, in name order.
fn changes<'a>(old: &'a Directory, new: &'a Directory) -> Vec<Change<'a>> {
    let names: BTreeSet<&str> = old.names().chain(new.names()).collect();
    names
        .into_iter()
        .filter_map(|name| match (old.get(name), new.get(name)) {
            (None, Some(now)) => Some(Change::Joined(now)),
            (Some(was), None) => Some(Change::Left(was)),
            (Some(was), Some(now)) if was != now => Some(Change::Changed { was, now }),
            _ => None,
        })
        .collect()
}

/// `joined LINE`, `left LINE`, or `changed LINE (was addr=..., epoch=...)`
/// naming the old value of each field that changed.
fn to_line(change: &Change<'_>) -> String {
    match change {
        Change::Joined(now) => format!("joined {}", show::line(now)),
        Change::Left(was) => format!("left {}", show::line(was)),
        Change::Changed { was, now } => {
            let mut before = Vec::new();
            if was.addr != now.addr {
                before.push(format!("addr={}", was.addr));
            }
            if was.wire != now.wire {
                before.push(format!("wire={}", was.wire));
            }
            if was.role != now.role {
                before.push(format!("role={}", was.role.as_deref().unwrap_or("-")));
            }
            if was.services != now.services {
                before.push("services=...".to_owned());
            }
            if was.epoch != now.epoch {
                before.push(format!("epoch={}", was.epoch));
            }
            if was.caps != now.caps {
                before.push(format!("caps={}", was.caps.join(",")));
            }
            format!("changed {} (was {})", show::line(now), before.join(", "))
        }
    }
}

/// The change as a `--json` line.
fn event<'a>(change: &Change<'a>) -> Event<'a> {
    match *change {
        Change::Joined(now) => Event::Joined { node: now.into() },
        Change::Left(was) => Event::Left { node: was.into() },
        Change::Changed { was, now } => Event::Changed {
            node: now.into(),
            was: was.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(records: &[(&str, &str, u64)]) -> Directory {
        Directory::from_records(
            records
                .iter()
                .map(|(name, addr, epoch)| NodeRecord::new(*name, *addr).epoch(*epoch)),
        )
    }

    #[test]
    fn changes_are_joins_leaves_and_changes_in_name_order() {
        let old = dir(&[("a", "h:1", 1), ("b", "h:2", 1), ("c", "h:3", 1)]);
        let new = dir(&[("a", "h:1", 1), ("c", "h:9", 2), ("d", "h:4", 1)]);
        let lines: Vec<String> = changes(&old, &new).iter().map(to_line).collect();
        assert_eq!(
            lines,
            [
                "left b h:2 v1 role=- services=- epoch=1",
                "changed c h:9 v1 role=- services=- epoch=2 (was addr=h:3, epoch=1)",
                "joined d h:4 v1 role=- services=- epoch=1",
            ]
        );
        assert!(changes(&new, &new).is_empty());
    }

    #[test]
    fn a_change_in_json_carries_both_records() {
        let (old, new) = (dir(&[("a", "h:1", 1)]), dir(&[("a", "h:1", 2)]));
        let change = &changes(&old, &new)[0];
        assert_eq!(
            show::to_json(&event(change)),
            r#"{"event":"changed","node":{"name":"a","addr":"h:1","services":[],"wire":"v1","caps":[],"epoch":2},"was":{"name":"a","addr":"h:1","services":[],"wire":"v1","caps":[],"epoch":1}}"#
        );
    }
}
