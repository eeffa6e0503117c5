//! `cluster nodes`: the directory once, one node per line or one JSON
//! document.

use std::io::{self, Write as _};

use serde::Serialize;

use crate::exit::Error;
use crate::{NodesArgs, show, source};

/// `--json` output: a static directory file's document.
#[derive(Serialize)]
struct Document<'a> {
    nodes: Vec<show::Entry<'a>>,
}

/// Prints the directory `args` names, then leaves it.
pub async fn run(args: NodesArgs) -> Result<(), Error> {
    let membership = source::open(&args.source).await?;
    let dir = membership.directory();
    membership.shutdown().await;
    let mut out = io::stdout().lock();
    if args.json {
        let document = Document {
            nodes: show::entries(&dir),
        };
        writeln!(out, "{}", show::to_json(&document))?;
    } else if dir.is_empty() {
        eprintln!("no nodes in {}", source::describe(&args.source));
    } else {
        for record in dir.iter() {
            writeln!(out, "{}", show::line(record))?;
        }
    }
    Ok(())
}
