//! JSON lines: one [`Finding`] per line, in its exact serde shape, so `trailguard fix --from FILE` and any
//! `jq` pipeline read it back without a schema of their own. No summary line: every line is a finding.

use std::io::{self, Write};

use crate::finding::Finding;
use crate::output::{FindingWriter, RunSummary};

pub struct JsonLinesWriter<W: Write> {
    out: W,
    /// One finding's line, built here and handed to `out` whole: serde_json writes a finding as a few
    /// hundred small pieces, each a call through `out` (often a `Box<dyn Write>`) when written there.
    line: Vec<u8>,
}

impl<W: Write> JsonLinesWriter<W> {
    pub fn new(out: W) -> Self {
        JsonLinesWriter {
            out,
            line: Vec::new(),
        }
    }
}

impl<W: Write> FindingWriter for JsonLinesWriter<W> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, finding)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    fn finish(&mut self, _summary: &RunSummary) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::sample_findings;

    fn render() -> String {
        let mut buf = Vec::new();
        let mut writer = JsonLinesWriter::new(&mut buf);
        for finding in sample_findings() {
            writer.write(&finding).unwrap();
        }
        writer.finish(&RunSummary::new("scan")).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn every_line_round_trips_into_the_same_finding() {
        let text = render();
        let back: Vec<Finding> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(back, sample_findings());
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render());
    }
}
