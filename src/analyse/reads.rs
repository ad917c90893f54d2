//! What a query can read: the registered tables it names and the columns of them it can see.
//! A query's result is a function of those columns alone, so while none of them changes the
//! result cannot change either, and the preview keeps it (and the pages made from it) instead
//! of running the query again.
//!
//! The answer is deliberately coarse and errs towards "more": every word of the query counts
//! as a column it may read, wherever it stands (a `USING` list, an alias, a keyword), and
//! anything that reaches columns without naming them (`*`, `t.*`, `COUNT(*)`, `NATURAL JOIN`,
//! `COLUMNS(...)`) counts as reading every column of every table the query names. Reading too
//! much only costs a query run; reading too little would publish a stale figure.

use std::collections::BTreeSet;

use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// The columns a query can see of the tables it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Columns {
    /// Only columns with these names (lowercased: polars compares names as written, so
    /// lowercasing can only add columns).
    Named(BTreeSet<String>),
    /// Every column of the tables it names.
    Every,
}

/// What one query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reads {
    /// The registered tables it names (lowercased), in name order.
    pub tables: BTreeSet<String>,
    pub columns: Columns,
}

impl Reads {
    /// Everything: for SQL the tokenizer cannot read (the query will fail, and its failure
    /// depends on nothing in particular).
    fn everything(tables: &[&str]) -> Reads {
        Reads {
            tables: tables.iter().map(|t| t.to_lowercase()).collect(),
            columns: Columns::Every,
        }
    }

    /// Whether the query can see a column named `lowercase` (already lowercased) of the
    /// tables it names.
    pub fn sees(&self, lowercase: &str) -> bool {
        match &self.columns {
            Columns::Every => true,
            Columns::Named(names) => names.contains(lowercase),
        }
    }
}

/// What `sql` (its parameters bound or not) reads of `tables`.
pub fn reads(sql: &str, tables: &[&str]) -> Reads {
    let Ok(tokens) = Tokenizer::new(&GenericDialect, sql).tokenize() else {
        return Reads::everything(tables);
    };
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut words = BTreeSet::new();
    let mut every = false;
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Word(word) => {
                let name = word.value.to_lowercase();
                // `COLUMNS('regex')` picks columns by pattern; `NATURAL JOIN` joins on every
                // name the two tables share.
                let picks_by_pattern =
                    name == "columns" && matches!(tokens.get(index + 1), Some(Token::LParen));
                if picks_by_pattern || word.keyword == Keyword::NATURAL {
                    every = true;
                }
                words.insert(name);
            }
            Token::Mul if is_wildcard(index.checked_sub(1).map(|i| &tokens[i])) => every = true,
            _ => {}
        }
    }
    let named: BTreeSet<String> = tables
        .iter()
        .map(|t| t.to_lowercase())
        .filter(|t| words.contains(t))
        .collect();
    Reads {
        tables: named,
        columns: if every {
            Columns::Every
        } else {
            Columns::Named(words)
        },
    }
}

/// A `*` is a multiplication only after an operand: a number, a string, a closing bracket or a
/// name that is no keyword. After anything else (`SELECT`, `,`, `(`, `.`, a keyword such as
/// `END`) it is taken for a wildcard, which at worst reads too much.
fn is_wildcard(before: Option<&Token>) -> bool {
    match before {
        Some(Token::Number(..))
        | Some(Token::SingleQuotedString(_))
        | Some(Token::DoubleQuotedString(_))
        | Some(Token::RParen) => false,
        Some(Token::Word(word)) => word.keyword != Keyword::NoKeyword,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: &[&str] = &["metrics", "areas", "templates", "programmes"];

    /// Whether `r` reads `column` of `table`.
    fn sees(r: &Reads, table: &str, column: &str) -> bool {
        r.tables.contains(table) && r.sees(column)
    }

    fn named(sql: &str) -> BTreeSet<String> {
        match reads(sql, TABLES).columns {
            Columns::Named(names) => names,
            Columns::Every => panic!("expected named columns for {sql}"),
        }
    }

    #[test]
    fn names_the_tables_and_columns_a_query_mentions() {
        let r = reads(
            "SELECT m.month, a.name FROM metrics m JOIN areas a ON a.code = m.area_code WHERE m.template = 'all'",
            TABLES,
        );
        assert_eq!(
            r.tables,
            ["areas", "metrics"].map(String::from).into_iter().collect()
        );
        assert!(sees(&r, "metrics", "month"));
        assert!(sees(&r, "metrics", "area_code"));
        assert!(sees(&r, "areas", "name"));
        assert!(!sees(&r, "metrics", "template_title"));
        assert!(!sees(&r, "templates", "title"), "templates is not read");
        // A string literal is a value, not a column.
        assert!(!named("SELECT month FROM metrics WHERE template = 'all'").contains("all"));
    }

    #[test]
    fn quoted_and_differently_cased_names_still_count() {
        let r = reads(r#"SELECT "Template_Title" FROM METRICS"#, TABLES);
        assert!(sees(&r, "metrics", "template_title"));
    }

    #[test]
    fn every_way_of_reaching_columns_without_naming_them_reads_everything() {
        for sql in [
            "SELECT * FROM metrics",
            "SELECT m.* FROM metrics m",
            "SELECT COUNT(*) FROM metrics",
            "SELECT * EXCLUDE (month) FROM metrics",
            "SELECT COLUMNS('^pct_.*$') FROM metrics",
            "SELECT code FROM areas NATURAL JOIN metrics",
            "SELECT DISTINCT * FROM metrics",
            "SELECT CASE WHEN 1 = 1 THEN 2 END * 3 FROM metrics",
        ] {
            assert_eq!(reads(sql, TABLES).columns, Columns::Every, "{sql}");
        }
    }

    #[test]
    fn multiplication_is_not_a_wildcard() {
        for sql in [
            "SELECT active_plans * 100 FROM metrics",
            "SELECT 100 * active_plans FROM metrics",
            "SELECT (a + b) * 2 FROM metrics",
            "SELECT '1' * 2 FROM metrics",
        ] {
            assert!(
                matches!(reads(sql, TABLES).columns, Columns::Named(_)),
                "{sql}"
            );
        }
    }

    #[test]
    fn using_lists_and_ctes_count_their_names() {
        let names = named(
            "WITH latest AS (SELECT area_code, active_plans FROM metrics) SELECT name FROM latest JOIN areas USING (area_code)",
        );
        assert!(names.contains("area_code"));
        assert!(names.contains("active_plans"));
        assert!(names.contains("name"));
    }

    #[test]
    fn unreadable_sql_reads_everything() {
        let r = reads("SELECT 'unterminated FROM metrics", TABLES);
        assert_eq!(r.columns, Columns::Every);
        assert_eq!(r.tables.len(), 4);
    }
}
