//! Decides whether a report's SQL may run: it must be one query that reads only the tables the
//! tool registers (metrics, areas, templates, programmes) and names defined by an enclosing
//! `WITH`.
//!
//! A report is a YAML file that anyone can propose in a pull request, and CI builds it. Polars
//! SQL has table functions (`read_csv`, `read_parquet`, `read_ipc`, `read_json`) that read any
//! file the process can see, so without this guard a report could publish an extract that was
//! never meant to leave the machine, or crash polars with a path it cannot read.
//!
//! The decision is made on the parsed tree, parsed exactly as polars-sql 0.55.2 parses it
//! (`GenericDialect`, trailing commas allowed), never on the text: comments, quoting, case and
//! nesting cannot hide a table function from a tree walk, while they can from a pattern.
//!
//! This module must not run, rewrite or "fix" SQL, and must not try to be a second SQL
//! engine: it refuses anything it does not understand rather than guessing. A refusal of an
//! odd but harmless query costs a report author a minute; letting one file read through
//! cannot be taken back once the site is published.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Cte, Expr, ObjectName, ObjectNamePart, Query, Select, SetExpr, Statement, TableFactor,
    TableWithJoins, Visit, Visitor, With,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError, ParserOptions};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// One reason a query may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What was found and what is allowed; lowercase, no trailing period.
    pub message: String,
    /// Byte offset in the SQL of what was found, where the parser recorded one.
    pub offset: Option<usize>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The table functions polars-sql 0.55.2 knows (`table_functions.rs`, matched there after
/// `to_lowercase`). Any table factor with arguments is refused whatever its name; this list
/// only words the message, and catches the names where they are used as plain functions.
const FILE_READERS: &[&str] = &[
    "read_csv",
    "read_parquet",
    "read_ipc",
    "read_json",
    "read_ndjson",
];

/// How deeply queries and expressions, counted together, may nest. The parser bounds most
/// nesting itself (recursion limit 50) but not chains such as `a OR b OR c ...`; past this
/// the walk would risk the stack (a test thread has 2 MiB), and no report needs it.
const MAX_DEPTH: usize = 200;

/// Refusals listed for one query; a query with more gets a count of the rest.
const MAX_REFUSALS: usize = 50;

/// Parses `sql` exactly as `polars_sql::SQLContext::execute` does (polars-sql 0.55.2,
/// `context.rs`, `execute`): a different dialect or option could produce a different tree from
/// the one polars runs, and the guard would be judging the wrong query.
fn parse(sql: &str) -> Result<Vec<Statement>, ParserError> {
    let mut parser = Parser::new(&GenericDialect);
    parser = parser.with_options(polars_options());
    parser.try_with_sql(sql)?.parse_statements()
}

fn polars_options() -> ParserOptions {
    ParserOptions {
        trailing_commas: true,
        ..Default::default()
    }
}

/// The tokens as the parser saw them (`Parser::try_with_sql` tokenizes the same way). Some
/// nodes carry no span (a single-quoted table name, `TABLE name`, statement starts); their
/// position is looked up here instead.
fn tokenize(sql: &str) -> Vec<TokenWithSpan> {
    Tokenizer::new(&GenericDialect, sql)
        .with_unescape(polars_options().unescape)
        .tokenize_with_location()
        .unwrap_or_default()
}

/// Checks that `sql` is one query reading only `allowed_tables` (and names its own `WITH`
/// clauses define, where they are in scope). Returns every problem found, in the order met.
///
/// Names are compared as polars resolves them: the identifier's text without its quotes,
/// case-sensitive, so `"metrics"` is the table `metrics` and `METRICS` is not.
pub fn check_query(sql: &str, allowed_tables: &[&str]) -> Result<(), Vec<Refusal>> {
    let statements = match parse(sql) {
        Ok(statements) => statements,
        Err(error) => {
            return Err(vec![Refusal {
                offset: parse_error_offset(sql, &error),
                message: error.to_string(),
            }]);
        }
    };
    let mut checker = Checker::new(sql, allowed_tables, tokenize(sql));
    match statements.as_slice() {
        [] => checker.refuse(
            "the query is empty; a report query must be exactly one select statement".to_owned(),
            None,
        ),
        [only] => checker.statement(0, only),
        [_, _, ..] => {
            let at = checker.statement_start(1);
            checker.refuse(
                format!(
                    "found {} statements; a report query must be exactly one select statement",
                    statements.len()
                ),
                at,
            );
            // Report the problems of each one too, so the author can fix everything at once.
            for (index, statement) in statements.iter().enumerate() {
                checker.statement(index, statement);
            }
        }
    }
    let refusals = checker.finish();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    }
}

/// sqlparser puts the position only in its message (" at Line: 1, Column: 15").
fn parse_error_offset(sql: &str, error: &ParserError) -> Option<usize> {
    let message = error.to_string();
    let (_, position) = message.rsplit_once(" at Line: ")?;
    let (line, column) = position.split_once(", Column: ")?;
    let column: String = column.chars().take_while(char::is_ascii_digit).collect();
    byte_offset(
        sql,
        &line_table(sql),
        Location::new(line.trim().parse().ok()?, column.parse().ok()?),
    )
}

/// Where each line of `sql` starts, and whether it is ASCII (then a column is a byte count).
fn line_table(sql: &str) -> Vec<(usize, bool)> {
    let mut start = 0;
    sql.split('\n')
        .map(|line| {
            let entry = (start, line.is_ascii());
            start += line.len() + 1;
            entry
        })
        .collect()
}

/// sqlparser counts lines from 1 at each `\n` and columns from 1 in characters (not bytes);
/// line 0 means the node has no recorded position.
fn byte_offset(sql: &str, lines: &[(usize, bool)], location: Location) -> Option<usize> {
    if location.line == 0 || location.column == 0 {
        return None;
    }
    let line_index = usize::try_from(location.line - 1).ok()?;
    let column_index = usize::try_from(location.column - 1).ok()?;
    let &(start, ascii) = lines.get(line_index)?;
    let end = lines
        .get(line_index + 1)
        .map_or(sql.len(), |next| next.0 - 1);
    let line = &sql[start..end];
    if ascii {
        // One past the last character is an error at the end of the line or text.
        return (column_index <= line.len()).then_some(start + column_index);
    }
    match line.char_indices().nth(column_index) {
        Some((byte, _)) => Some(start + byte),
        None if line.chars().count() == column_index => Some(start + line.len()),
        None => None,
    }
}

struct Checker<'x> {
    sql: &'x str,
    lines: Vec<(usize, bool)>,
    tokens: Vec<TokenWithSpan>,
    allowed: &'x [&'x str],
    /// CTE names defined anywhere in the SQL, in or out of scope.
    defined_anywhere: Vec<String>,
    /// Refusals of unknown names (index, name as shown, name), for `finish`.
    unknown: Vec<(usize, String, String)>,
    refusals: Vec<Refusal>,
    /// How deeply queries and expressions nest where the walk is; see `MAX_DEPTH`.
    depth: usize,
}

impl<'x> Checker<'x> {
    fn new(sql: &'x str, allowed: &'x [&'x str], tokens: Vec<TokenWithSpan>) -> Self {
        Checker {
            sql,
            lines: line_table(sql),
            tokens,
            allowed,
            defined_anywhere: Vec::new(),
            unknown: Vec::new(),
            refusals: Vec::new(),
            depth: 0,
        }
    }

    fn offset(&self, location: Location) -> Option<usize> {
        byte_offset(self.sql, &self.lines, location)
    }

    fn token_offset(&self, token: &TokenWithSpan) -> Option<usize> {
        self.offset(token.span.start)
    }

    /// Where statement `index` (from 0) begins: its first token after `index` semicolons.
    fn statement_start(&self, index: usize) -> Option<usize> {
        let mut semicolons = 0;
        for token in &self.tokens {
            match token.token {
                Token::SemiColon => semicolons += 1,
                Token::Whitespace(_) | Token::EOF => {}
                _ if semicolons == index => return self.token_offset(token),
                _ => {}
            }
        }
        None
    }

    /// The word at byte `at`, lowercased (a statement's first keyword).
    fn first_word(&self, at: Option<usize>) -> String {
        let word: String = at
            .map(|at| &self.sql[at..])
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            "unknown".to_owned()
        } else {
            word.to_lowercase()
        }
    }

    /// The first token `wanted` accepts, for nodes the parser gave no span.
    fn find_token(&self, wanted: impl Fn(&Token) -> bool) -> Option<usize> {
        let token = self.tokens.iter().find(|t| wanted(&t.token))?;
        self.token_offset(token)
    }

    /// The first word `name` (as written, unquoted text) that follows the keyword `before`.
    fn find_word_after(&self, before: Keyword, name: &str) -> Option<usize> {
        let mut previous_was_keyword = false;
        for token in &self.tokens {
            match &token.token {
                Token::Whitespace(_) => continue,
                Token::Word(word) if previous_was_keyword && word.value == name => {
                    return self.token_offset(token);
                }
                Token::Word(word) => previous_was_keyword = word.keyword == before,
                _ => previous_was_keyword = false,
            }
        }
        None
    }

    /// A single-quoted string used as a table: after FROM, JOIN or a comma if there is one
    /// such, else the first string with that text.
    fn find_string_table(&self, text: &str) -> Option<usize> {
        let is_it = |t: &Token| matches!(t, Token::SingleQuotedString(s) if s == text);
        let mut previous: Option<&Token> = None;
        for token in &self.tokens {
            if matches!(token.token, Token::Whitespace(_)) {
                continue;
            }
            let after_from = match previous {
                Some(Token::Word(w)) => matches!(w.keyword, Keyword::FROM | Keyword::JOIN),
                Some(Token::Comma) => true,
                _ => false,
            };
            if after_from && is_it(&token.token) {
                return self.token_offset(token);
            }
            previous = Some(&token.token);
        }
        self.find_token(is_it)
    }

    fn refuse(&mut self, message: String, offset: Option<usize>) {
        self.refusals.push(Refusal { message, offset });
    }

    /// "report queries may read only the tables a, b, c", the end of most messages.
    fn allowed_phrase(&self) -> String {
        if self.allowed.is_empty() {
            "report queries may read no tables here".to_owned()
        } else {
            format!(
                "report queries may read only the tables {}",
                self.allowed.join(", ")
            )
        }
    }

    fn statement(&mut self, index: usize, statement: &Statement) {
        if let Statement::Query(query) = statement {
            self.query(query, &[]);
            return;
        }
        let at = self.statement_start(index);
        let found = statement_name(statement).unwrap_or_else(|| self.first_word(at));
        self.refuse(
            format!("`{found}` statement found; a report query must be a single select statement"),
            at,
        );
    }

    /// A query with its own `WITH` scope. `scope` holds the CTE names visible from outside.
    fn query(&mut self, query: &Query, scope: &[&str]) {
        if self.depth >= MAX_DEPTH {
            let at = self.query_offset(query);
            self.refuse_too_deep(at);
            return;
        }
        self.depth += 1;
        self.query_in_depth(query, scope);
        self.depth -= 1;
    }

    fn refuse_too_deep(&mut self, at: Option<usize>) {
        self.refuse(
            format!(
                "the query nests more than {MAX_DEPTH} levels deep; report queries must be simpler"
            ),
            at,
        );
    }

    fn query_in_depth(&mut self, query: &Query, scope: &[&str]) {
        // Destructured in full, as polars-sql does, so that a field added by a later
        // sqlparser is a compile error here rather than a clause the guard never looks at.
        let Query {
            with,
            body,
            order_by,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = query;

        let mut inner: Vec<&str> = scope.to_vec();
        if let Some(with) = with {
            self.with(with, &mut inner);
        }
        self.set_expr(body, &inner);

        if !pipe_operators.is_empty() {
            // A pipe operator can join or union further tables; polars refuses them as well.
            let at = self.query_offset(query);
            self.refuse(
                "pipe operators (`|>`) are not supported in report queries".to_owned(),
                at,
            );
        }
        // The rest hold only expressions, which may still hide subqueries.
        self.expressions(order_by, &inner);
        self.expressions(limit_clause, &inner);
        self.expressions(fetch, &inner);
        self.expressions(locks, &inner);
        self.expressions(for_clause, &inner);
        self.expressions(settings, &inner);
        self.expressions(format_clause, &inner);
    }

    /// Each CTE sees the names before it (as polars registers them one by one in
    /// `register_ctes`); the body sees them all. Pushes the names onto `scope`.
    fn with<'q>(&mut self, with: &'q With, scope: &mut Vec<&'q str>) {
        if with.recursive {
            // polars refuses recursive CTEs; and a CTE that sees itself needs scoping we do
            // not model.
            let at = self.offset(with.with_token.0.span.start);
            self.refuse(
                "`with recursive` is not supported in report queries".to_owned(),
                at,
            );
        }
        for cte in &with.cte_tables {
            let Cte {
                alias,
                query,
                from,
                materialized: _,
                closing_paren_token: _,
            } = cte;
            self.query(query, scope);
            if let Some(from) = from {
                let at = self.offset(from.span.start);
                self.refuse(
                    format!(
                        "`from {from}` after a with definition is not supported in report queries"
                    ),
                    at,
                );
            }
            scope.push(alias.name.value.as_str());
            self.defined_anywhere.push(alias.name.value.clone());
        }
    }

    fn set_expr(&mut self, body: &SetExpr, scope: &[&str]) {
        match body {
            SetExpr::Select(select) => self.select(select, scope),
            SetExpr::Query(query) => self.query(query, scope),
            SetExpr::SetOperation { .. } => {
                // `a UNION b UNION c ...` nests to the left without limit (the parser loops
                // there), so the left spine is walked in a loop, not by recursion.
                let mut rights = Vec::new();
                let mut left = body;
                while let SetExpr::SetOperation {
                    left: next, right, ..
                } = left
                {
                    rights.push(&**right);
                    left = next;
                }
                self.set_expr(left, scope);
                for right in rights.into_iter().rev() {
                    self.set_expr(right, scope);
                }
            }
            // Literal rows; their expressions may still hold subqueries.
            SetExpr::Values(values) => self.expressions(values, scope),
            SetExpr::Table(table) => {
                // `TABLE name`: a table reference that is not a table factor.
                let at = match &table.table_name {
                    Some(name) => self.find_word_after(Keyword::TABLE, name),
                    None => self
                        .find_token(|t| matches!(t, Token::Word(w) if w.keyword == Keyword::TABLE)),
                };
                match (&table.schema_name, &table.table_name) {
                    (None, Some(name)) => {
                        if !self.is_readable(name, scope) {
                            self.refuse_unknown(&format!("`{name}`"), name, at);
                        }
                    }
                    _ => {
                        let message = format!(
                            "`{table}` is not a plain table name; {}",
                            self.allowed_phrase()
                        );
                        self.refuse(message, at);
                    }
                }
            }
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                let statement = match body {
                    SetExpr::Insert(s)
                    | SetExpr::Update(s)
                    | SetExpr::Delete(s)
                    | SetExpr::Merge(s) => s,
                    _ => unreachable!("matched above"),
                };
                let name = statement_name(statement).unwrap_or_else(|| "statement".to_owned());
                let keyword = name.split(' ').next().unwrap_or_default();
                let at = self.find_token(
                    |t| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(keyword)),
                );
                self.refuse(
                    format!("`{name}` found inside the query; a report query must only select"),
                    at,
                );
            }
        }
    }

    fn select(&mut self, select: &Select, scope: &[&str]) {
        let Select {
            select_token: _,
            optimizer_hints,
            distinct,
            select_modifiers,
            top,
            top_before_distinct: _,
            projection,
            exclude,
            into,
            from,
            lateral_views,
            prewhere,
            selection,
            connect_by,
            group_by,
            cluster_by,
            distribute_by,
            sort_by,
            having,
            named_window,
            qualify,
            window_before_qualify: _,
            value_table_mode: _,
            flavor: _,
        } = select;

        for table in from {
            self.table_with_joins(table, scope);
        }
        if let Some(into) = into {
            let at = self.first_part_offset(&into.name);
            self.refuse(
                format!(
                    "`into {}` creates a table; a report query must only select",
                    display_name(&into.name)
                ),
                at,
            );
        }
        self.expressions(optimizer_hints, scope);
        self.expressions(distinct, scope);
        self.expressions(select_modifiers, scope);
        self.expressions(top, scope);
        self.expressions(projection, scope);
        self.expressions(exclude, scope);
        self.expressions(lateral_views, scope);
        self.expressions(prewhere, scope);
        self.expressions(selection, scope);
        self.expressions(connect_by, scope);
        self.expressions(group_by, scope);
        self.expressions(cluster_by, scope);
        self.expressions(distribute_by, scope);
        self.expressions(sort_by, scope);
        self.expressions(having, scope);
        self.expressions(named_window, scope);
        self.expressions(qualify, scope);
    }

    fn table_with_joins(&mut self, table: &TableWithJoins, scope: &[&str]) {
        self.table_factor(&table.relation, scope);
        for join in &table.joins {
            self.table_factor(&join.relation, scope);
            // ON / USING / ASOF conditions.
            self.expressions(&join.join_operator, scope);
        }
    }

    /// Where a table factor starts, where that is cheap to know. Never from `Spanned::span`:
    /// that is the union of every child's span, found by recursing through all of them, which
    /// is quadratic over a query's tables and overflows the stack on a long `OR` chain.
    fn factor_offset(&self, factor: &TableFactor) -> Option<usize> {
        match factor {
            TableFactor::Table { name, .. } | TableFactor::Function { name, .. } => {
                self.first_part_offset(name)
            }
            TableFactor::Derived { subquery, .. } => self.query_offset(subquery),
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.factor_offset(&table_with_joins.relation),
            _ => None,
        }
    }

    /// Where a query starts: its WITH or its first SELECT keyword.
    fn query_offset(&self, query: &Query) -> Option<usize> {
        if let Some(with) = &query.with {
            return self.offset(with.with_token.0.span.start);
        }
        let mut body = &*query.body;
        loop {
            match body {
                SetExpr::Select(select) => return self.offset(select.select_token.0.span.start),
                SetExpr::SetOperation { left, .. } => body = left,
                SetExpr::Query(inner) => return self.query_offset(inner),
                _ => return None,
            }
        }
    }

    /// Where a name's first part is: an identifier carries its own span.
    fn first_part_offset(&self, name: &ObjectName) -> Option<usize> {
        match name.0.first()? {
            ObjectNamePart::Identifier(ident) => self.offset(ident.span.start),
            ObjectNamePart::Function(function) => self.offset(function.name.span.start),
        }
    }

    fn table_factor(&mut self, factor: &TableFactor, scope: &[&str]) {
        match factor {
            TableFactor::Table {
                name,
                alias: _,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if args.is_some() {
                    // polars runs any `name(...)` in FROM as a table function, matching the
                    // first name part case-insensitively (`read_csv.x(...)` is `read_csv`).
                    let message = format!(
                        "`{}` is a table function; {}",
                        display_name(name),
                        self.allowed_phrase()
                    );
                    let at = self.name_offset(name, factor);
                    self.refuse(message, at);
                    return;
                }
                let mut modifiers = Vec::new();
                if !with_hints.is_empty() {
                    modifiers.push("with hints");
                }
                if version.is_some() {
                    modifiers.push("version");
                }
                if *with_ordinality {
                    modifiers.push("with ordinality");
                }
                if !partitions.is_empty() {
                    modifiers.push("partition");
                }
                if json_path.is_some() {
                    modifiers.push("json path");
                }
                if sample.is_some() {
                    modifiers.push("sample");
                }
                if !index_hints.is_empty() {
                    modifiers.push("index hints");
                }
                if !modifiers.is_empty() {
                    // polars refuses these too (`validate_table_factor`); some hold
                    // expressions we would otherwise have to walk.
                    let at = self.factor_offset(factor);
                    self.refuse(
                        format!(
                            "table modifiers ({}) are not supported in report queries",
                            modifiers.join(", ")
                        ),
                        at,
                    );
                }
                self.table_name(name, scope, factor);
            }
            TableFactor::Derived {
                lateral: _,
                subquery,
                alias: _,
                sample,
            } => {
                if sample.is_some() {
                    let at = self.factor_offset(factor);
                    self.refuse(
                        "table modifiers (sample) are not supported in report queries".to_owned(),
                        at,
                    );
                }
                self.query(subquery, scope);
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias: _,
            } => self.table_with_joins(table_with_joins, scope),
            TableFactor::Function { name, .. } => {
                let message = format!(
                    "`{}` is a table function; {}",
                    display_name(name),
                    self.allowed_phrase()
                );
                let at = self.name_offset(name, factor);
                self.refuse(message, at);
            }
            other => {
                let keyword = match other {
                    TableFactor::TableFunction { .. } => "table",
                    TableFactor::UNNEST { .. } => "unnest",
                    TableFactor::JsonTable { .. } => "json_table",
                    TableFactor::OpenJsonTable { .. } => "openjson",
                    TableFactor::Pivot { .. } => "pivot",
                    TableFactor::Unpivot { .. } => "unpivot",
                    TableFactor::MatchRecognize { .. } => "match_recognize",
                    TableFactor::XmlTable { .. } => "xmltable",
                    TableFactor::SemanticView { .. } => "semantic_view",
                    _ => "",
                };
                let what = match keyword {
                    "" => "this table source".to_owned(),
                    "table" => "`table(...)`".to_owned(),
                    k => format!("`{k}`"),
                };
                let at = self.factor_offset(other).or_else(|| {
                    self.find_token(
                        |t| matches!(t, Token::Word(w) if !keyword.is_empty() && w.value.eq_ignore_ascii_case(keyword)),
                    )
                });
                let message = format!(
                    "{what} in from is not allowed; {} (directly, through a subquery or a with name)",
                    self.allowed_phrase()
                );
                self.refuse(message, at);
            }
        }
    }

    /// A plain table name in FROM or JOIN.
    fn table_name(&mut self, name: &ObjectName, scope: &[&str], factor: &TableFactor) {
        let parts: Option<Vec<_>> = name.0.iter().map(ObjectNamePart::as_ident).collect();
        let shown = display_name(name);
        let Some(parts) = parts else {
            let message = format!(
                "`{shown}` is not a plain table name; {}",
                self.allowed_phrase()
            );
            let at = self.name_offset(name, factor);
            self.refuse(message, at);
            return;
        };
        let [ident] = parts.as_slice() else {
            // polars would use only the first part (`metrics.x` reads `metrics`), which no
            // author means; refuse rather than guess.
            let message = format!(
                "`{shown}` is a qualified name; {} by their plain names",
                self.allowed_phrase()
            );
            let at = self.name_offset(name, factor);
            self.refuse(message, at);
            return;
        };
        if ident.quote_style == Some('\'') {
            // GenericDialect takes `FROM '/etc/passwd'` as a table name; it is never one of ours.
            let message = format!(
                "`{shown}` is a string, not a table name; {}",
                self.allowed_phrase()
            );
            let at = self
                .name_offset(name, factor)
                .or_else(|| self.find_string_table(&ident.value));
            self.refuse(message, at);
            return;
        }
        if !self.is_readable(&ident.value, scope) {
            let at = self.name_offset(name, factor);
            self.refuse_unknown(&format!("`{shown}`"), &ident.value, at);
        }
    }

    /// Where a name starts (its first part), else where its table factor does.
    fn name_offset(&self, name: &ObjectName, factor: &TableFactor) -> Option<usize> {
        self.first_part_offset(name)
            .or_else(|| self.factor_offset(factor))
    }

    /// Whether polars would resolve `name` to a registered table or a CTE in scope.
    /// polars looks the unquoted text up as it is (`get_table_from_current_scope`), so the
    /// comparison is exact and case-sensitive.
    fn is_readable(&self, name: &str, scope: &[&str]) -> bool {
        self.allowed.contains(&name) || scope.contains(&name)
    }

    /// Refuses a name that is neither an allowed table nor a CTE in scope, saying what it
    /// looks like. Whether it is a CTE used out of its scope is known only once the whole
    /// query has been walked (`finish`), so that case is noted here and worded there.
    fn refuse_unknown(&mut self, shown: &str, value: &str, at: Option<usize>) {
        let allowed = self.allowed_phrase();
        let message = if FILE_READERS.contains(&value.to_lowercase().as_str()) {
            format!("{shown} is a table function; {allowed}")
        } else if let Some(table) = self.allowed.iter().find(|t| t.eq_ignore_ascii_case(value)) {
            format!(
                "{shown} is not a table report queries can read (names are case-sensitive: the table is `{table}`); {allowed}"
            )
        } else {
            self.unknown
                .push((self.refusals.len(), shown.to_owned(), value.to_owned()));
            if value.contains(['/', '\\', '.']) {
                format!("{shown} looks like a file path, not a table; {allowed}")
            } else {
                format!("{shown} is not a table report queries can read; {allowed}")
            }
        };
        self.refuse(message, at);
    }

    /// Rewords the refusals of names that a `WITH` somewhere defines.
    fn finish(mut self) -> Vec<Refusal> {
        for (index, shown, value) in std::mem::take(&mut self.unknown) {
            if self.defined_anywhere.contains(&value) {
                self.refusals[index].message = format!(
                    "{shown} is a with name used outside its scope; a with name is visible only after its definition, inside the query that defines it"
                );
            }
        }
        if self.refusals.len() > MAX_REFUSALS {
            let more = self.refusals.len() - MAX_REFUSALS;
            self.refusals.truncate(MAX_REFUSALS);
            self.refusals.push(Refusal {
                message: format!("and {more} more problems like these"),
                offset: None,
            });
        }
        self.refusals
    }

    /// Walks expressions (and anything else that is not a table source), checking each
    /// subquery met at the top level as a query in `scope`.
    fn expressions<V: Visit + ?Sized>(&mut self, node: &V, scope: &[&str]) {
        // A visit that stopped early (too deep) skipped the exits that count depth back down.
        let depth = self.depth;
        let mut walk = ExprWalk {
            checker: self,
            scope,
            depth: 0,
        };
        let _ = node.visit(&mut walk);
        self.depth = depth;
    }
}

/// sqlparser's visitor reaches every expression and every nested query, which an explicit
/// match over its ~90 expression kinds would not reliably do. It is used only for that: a
/// subquery it meets is handed back to the explicit walk (which knows about scopes), and what
/// lies inside it is skipped here by counting depth.
///
/// `visit_relations` alone would not do: it sees only `TableFactor::Table` names, and not
/// `TableFactor::Function`, `UNNEST`, `TABLE name` or the arguments of a table function.
struct ExprWalk<'w, 'x> {
    checker: &'w mut Checker<'x>,
    scope: &'w [&'w str],
    /// Queries entered below the top level (skipped here: the explicit walk checks them).
    depth: usize,
}

impl Visitor for ExprWalk<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            self.checker.query(query, self.scope);
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if self.depth == 0 {
            // A table source outside a query (no known syntax makes one); refuse rather than
            // let it through unchecked.
            let at = self.checker.factor_offset(factor);
            let message = format!(
                "a table source outside from is not allowed; {}",
                self.checker.allowed_phrase()
            );
            self.checker.refuse(message, at);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.checker.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        // One count for queries and expressions together: nesting them in turn must not
        // multiply the depth the stack sees.
        self.checker.depth += 1;
        if self.checker.depth > MAX_DEPTH {
            // Break ends the whole visit, so nothing deeper is looked at (or trusted).
            // No position: finding one would recurse through the very chain that is too deep.
            self.checker.refuse_too_deep(None);
            return ControlFlow::Break(());
        }
        // polars-sql 0.55.2 has no scalar function that reads files (functions.rs); a
        // reader's name used as one is refused all the same, in case a later version adds one.
        if self.depth == 0
            && let Expr::Function(function) = expr
            && function.name.0.iter().any(|part| {
                part.as_ident()
                    .is_some_and(|i| is_file_reader_name(&i.value))
            })
        {
            let at = self.checker.first_part_offset(&function.name);
            let message = format!(
                "`{}` reads a file; {}",
                display_name(&function.name),
                self.checker.allowed_phrase()
            );
            self.checker.refuse(message, at);
        }
        ControlFlow::Continue(())
    }
}

fn is_file_reader_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    FILE_READERS.contains(&lower.as_str())
        || lower.starts_with("read_")
        || lower.starts_with("scan_")
}

/// The name as written, with its quotes, so the author can find it. Not `ObjectName`'s own
/// `Display`, which would print a name part's function arguments in full.
fn display_name(name: &ObjectName) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.to_string(),
            ObjectNamePart::Function(function) => format!("{}(...)", function.name),
        })
        .collect();
    parts.join(".")
}

/// A short lowercase name for a statement that is not a query, e.g. `drop table`, for the
/// kinds a report author might try; `None` for the rest (the caller names those by their
/// first word, from the tokens: writing a statement back out could recurse without bound).
fn statement_name(statement: &Statement) -> Option<String> {
    let name = match statement {
        Statement::CreateTable(_) => "create table",
        Statement::CreateView(_) => "create view",
        Statement::AlterTable(_) => "alter table",
        Statement::Drop { object_type, .. } => {
            return Some(format!("drop {}", object_type.to_string().to_lowercase()));
        }
        Statement::Delete(_) => "delete",
        Statement::Truncate(_) => "truncate",
        Statement::ShowTables { .. } => "show tables",
        Statement::Explain { .. } | Statement::ExplainTable { .. } => "explain",
        Statement::Insert(_) => "insert",
        Statement::Update(_) => "update",
        Statement::Merge(_) => "merge",
        Statement::Copy { .. } => "copy",
        Statement::Set(_) => "set",
        Statement::Use(_) => "use",
        Statement::Query(_) => "select",
        _ => return None,
    };
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &[&str] = &["metrics", "areas", "templates", "programmes"];

    fn refusals(sql: &str) -> Vec<Refusal> {
        match check_query(sql, ALLOWED) {
            Ok(()) => Vec::new(),
            Err(refusals) => refusals,
        }
    }

    #[track_caller]
    fn assert_allowed(sql: &str) {
        assert_eq!(check_query(sql, ALLOWED), Ok(()), "{sql}");
    }

    /// Refused, with a message containing `needle` and, if `at` is given, an offset pointing
    /// at text starting with it.
    #[track_caller]
    fn assert_refused(sql: &str, needle: &str, at: Option<&str>) {
        let found = refusals(sql);
        let refusal = found
            .iter()
            .find(|r| r.message.contains(needle))
            .unwrap_or_else(|| panic!("{sql}: no refusal mentioning {needle:?} in {found:?}"));
        if let Some(at) = at {
            let offset = refusal
                .offset
                .unwrap_or_else(|| panic!("{sql}: no offset for {refusal:?}"));
            assert!(
                sql[offset..].starts_with(at),
                "{sql}: offset {offset} points at {:?}, wanted {at:?}",
                &sql[offset..]
            );
        }
        for r in &found {
            // Lowercase prose; names in backticks are quoted as written.
            let prose: String = r.message.split('`').step_by(2).collect();
            assert_eq!(prose, prose.to_lowercase(), "{r:?}");
            assert!(!r.message.ends_with('.'), "{r:?}");
        }
    }

    #[test]
    fn refuses_each_table_function() {
        for function in ["read_csv", "read_parquet", "read_ipc", "read_json"] {
            let sql = format!("SELECT * FROM {function}('/some/extract/plans.file')");
            assert_refused(
                &sql,
                &format!("`{function}` is a table function"),
                Some(function),
            );
        }
        assert_eq!(
            refusals("SELECT * FROM read_parquet('/some/extract/plans.parquet')"),
            vec![Refusal {
                message: "`read_parquet` is a table function; report queries may read only the tables metrics, areas, templates, programmes".to_owned(),
                offset: Some(14),
            }]
        );
    }

    #[test]
    fn refuses_table_functions_in_disguise() {
        for (sql, at) in [
            ("SELECT * FROM READ_CSV('/etc/passwd')", "READ_CSV"),
            ("SELECT * FROM Read_Parquet('/x.parquet')", "Read_Parquet"),
            ("SELECT * FROM \"READ_CSV\"('/etc/passwd')", "\"READ_CSV\""),
            ("SELECT * FROM \"read_csv\"('/etc/passwd')", "\"read_csv\""),
            ("SELECT * FROM `read_ipc`('/x.ipc')", "`read_ipc`"),
            ("SELECT * FROM read_csv /* x */ ('/etc/passwd')", "read_csv"),
            ("SELECT * FROM read_csv/**/('/etc/passwd')", "read_csv"),
            (
                "SELECT *\nFROM -- the data\n read_json\n -- more\n ('/x.json')",
                "read_json",
            ),
            (
                "SELECT * FROM main.read_csv('/etc/passwd')",
                "main.read_csv",
            ),
            // polars takes the first part of the name: this one would run read_csv.
            (
                "SELECT * FROM read_csv.anything('/etc/passwd')",
                "read_csv.anything",
            ),
            (
                "SELECT * FROM something_else('/etc/passwd')",
                "something_else",
            ),
            (
                "SELECT * FROM metrics, LATERAL read_csv('/etc/passwd') AS t",
                "read_csv",
            ),
            ("FROM read_csv('/etc/passwd')", "read_csv"),
            ("FROM read_csv('/etc/passwd') SELECT *", "read_csv"),
        ] {
            assert_refused(sql, "is a table function", Some(at));
        }
    }

    #[test]
    fn refuses_table_functions_in_subqueries() {
        for sql in [
            "SELECT * FROM (SELECT * FROM read_csv('/etc/passwd')) AS t",
            "SELECT * FROM (SELECT * FROM (SELECT * FROM read_csv('/etc/passwd')) a) b",
            "SELECT * FROM metrics WHERE area_code IN (SELECT area_code FROM read_csv('/x.csv'))",
            "SELECT * FROM metrics WHERE EXISTS (SELECT 1 FROM read_csv('/x.csv'))",
            "SELECT * FROM metrics WHERE NOT EXISTS (SELECT 1 FROM read_csv('/x.csv'))",
            "SELECT * FROM metrics WHERE new_plans > (SELECT MAX(n) FROM read_csv('/x.csv'))",
            "SELECT (SELECT MAX(n) FROM read_csv('/x.csv')) AS n FROM metrics",
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM read_csv('/x.csv')) THEN 1 END FROM metrics",
            "SELECT month, COUNT(*) FROM metrics GROUP BY month HAVING COUNT(*) > (SELECT COUNT(*) FROM read_csv('/x.csv'))",
            "SELECT * FROM metrics ORDER BY (SELECT 1 FROM read_csv('/x.csv'))",
            "SELECT * FROM metrics LIMIT (SELECT 1 FROM read_csv('/x.csv'))",
            "SELECT * FROM metrics m JOIN areas a ON a.code IN (SELECT code FROM read_csv('/x.csv'))",
            "SELECT SUM(new_plans) OVER (PARTITION BY (SELECT 1 FROM read_csv('/x.csv'))) FROM metrics",
            "SELECT * FROM metrics WHERE area_code = ANY (SELECT c FROM read_csv('/x.csv'))",
            "SELECT * FROM (VALUES ((SELECT 1 FROM read_csv('/x.csv')))) AS v(a)",
            "SELECT * FROM metrics WHERE month = $latest AND area_code IN (SELECT * FROM (SELECT a FROM read_ipc('/x')) t)",
        ] {
            assert_refused(sql, "is a table function", Some("read_"));
        }
    }

    #[test]
    fn refuses_table_functions_in_ctes_set_operations_and_joins() {
        for sql in [
            // A CTE that shadows an allowed name with a table function body.
            "WITH metrics AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM metrics",
            "WITH a AS (SELECT * FROM metrics), b AS (SELECT * FROM read_parquet('/p')) SELECT * FROM a",
            "WITH a AS (WITH b AS (SELECT * FROM read_csv('/x')) SELECT * FROM b) SELECT * FROM a",
            "SELECT * FROM (WITH b AS (SELECT * FROM read_csv('/x')) SELECT * FROM b) AS t",
            "SELECT * FROM metrics UNION SELECT * FROM read_csv('/x')",
            "SELECT * FROM metrics UNION ALL SELECT * FROM read_csv('/x')",
            "SELECT * FROM metrics EXCEPT SELECT * FROM read_csv('/x')",
            "SELECT * FROM metrics INTERSECT SELECT * FROM read_csv('/x')",
            "(SELECT * FROM metrics) UNION ALL ((SELECT * FROM read_csv('/x')))",
            "SELECT * FROM metrics m JOIN read_csv('/x') r ON r.a = m.area_code",
            "SELECT * FROM metrics m LEFT JOIN areas a ON a.code = m.area_code CROSS JOIN read_json('/x') j",
            "SELECT * FROM metrics m, read_csv('/x') r",
            "SELECT * FROM metrics m CROSS JOIN LATERAL (SELECT * FROM read_csv('/x')) AS r",
            "SELECT * FROM ((metrics m JOIN (areas a JOIN read_csv('/x') r ON 1 = 1) ON 1 = 1))",
            "SELECT * FROM (((SELECT * FROM read_csv('/x')))) AS t",
        ] {
            assert_refused(sql, "is a table function", Some("read_"));
        }
    }

    #[test]
    fn reports_every_problem_not_just_the_first() {
        let found = refusals(
            "SELECT * FROM read_csv('/a') JOIN secrets s ON 1 = 1 WHERE x IN (SELECT x FROM read_ipc('/b'))",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].message.starts_with("`read_csv`"));
        assert!(found[1].message.starts_with("`secrets`"));
        assert!(found[2].message.starts_with("`read_ipc`"));
    }

    #[test]
    fn refuses_tables_that_are_not_registered() {
        assert_refused(
            "SELECT * FROM secrets",
            "`secrets` is not a table report queries can read; report queries may read only the tables metrics, areas, templates, programmes",
            Some("secrets"),
        );
        // polars resolves names case-sensitively: METRICS is not the table metrics.
        assert_refused(
            "SELECT * FROM METRICS",
            "the table is `metrics`",
            Some("METRICS"),
        );
        assert_refused(
            "SELECT * FROM \"Metrics\"",
            "the table is `metrics`",
            Some("\"Metrics\""),
        );
        assert_refused(
            "SELECT * FROM public.metrics",
            "is a qualified name",
            Some("public.metrics"),
        );
        assert_refused(
            "SELECT * FROM metrics.areas",
            "is a qualified name",
            Some("metrics.areas"),
        );
        assert_refused(
            "SELECT * FROM db.public.metrics",
            "is a qualified name",
            Some("db."),
        );
        // An alias is not a table name to polars' isolated subqueries; refused, conservatively.
        assert_refused(
            "SELECT * FROM metrics m WHERE EXISTS (SELECT 1 FROM m)",
            "`m` is not a table",
            Some("m)"),
        );
        assert_refused(
            "SELECT * FROM metrics UNION TABLE secrets",
            "`secrets`",
            Some("secrets"),
        );
    }

    #[test]
    fn refuses_strings_and_paths_as_tables() {
        assert_refused(
            "SELECT * FROM '/etc/passwd'",
            "`'/etc/passwd'` is a string, not a table name",
            Some("'/etc/passwd'"),
        );
        assert_refused(
            "SELECT '/etc/passwd' AS p, * FROM metrics JOIN '/etc/passwd' ON 1 = 1",
            "is a string",
            Some("'/etc/passwd' ON"),
        );
        // Even the text of an allowed name: a string is never a table to this guard.
        assert_refused("SELECT * FROM 'metrics'", "is a string", Some("'metrics'"));
        assert_refused(
            "SELECT * FROM \"x.csv\"",
            "looks like a file path",
            Some("\"x.csv\""),
        );
        assert_refused(
            "SELECT * FROM \"/etc/passwd\"",
            "looks like a file path",
            Some("\"/etc"),
        );
    }

    #[test]
    fn other_table_sources_are_refused() {
        for (sql, needle) in [
            (
                "SELECT * FROM UNNEST([1, 2]) AS t(a)",
                "`unnest` in from is not allowed",
            ),
            (
                "SELECT * FROM metrics CROSS JOIN UNNEST(metrics.arr)",
                "`unnest`",
            ),
            ("SELECT * FROM TABLE(f(1))", "`table(...)`"),
            (
                "SELECT * FROM JSON_TABLE('[]', '$' COLUMNS (a INT PATH '$.a')) AS j",
                "`json_table`",
            ),
            (
                "SELECT * FROM metrics PIVOT (SUM(a) FOR b IN (1, 2))",
                "`pivot`",
            ),
            (
                "SELECT * FROM metrics TABLESAMPLE (10 ROWS)",
                "table modifiers (sample)",
            ),
            (
                "SELECT * FROM metrics WITH (NOLOCK)",
                "table modifiers (with hints)",
            ),
            (
                "SELECT * INTO copied FROM metrics",
                "`into copied` creates a table",
            ),
            ("SELECT * FROM metrics |> WHERE a = 1", "pipe operators"),
            (
                "WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r",
                "`with recursive`",
            ),
            (
                "SELECT * FROM metrics WHERE read_csv('/x') IS NULL",
                "`read_csv` reads a file",
            ),
        ] {
            assert_refused(sql, needle, None);
        }
    }

    #[test]
    fn cte_names_are_scoped() {
        // Defined inside a derived table, used outside it.
        assert_refused(
            "SELECT * FROM (WITH c AS (SELECT * FROM metrics) SELECT * FROM c) AS d JOIN c ON 1 = 1",
            "`c` is a with name used outside its scope",
            Some("c ON"),
        );
        // Defined in a CTE body, used in the outer query.
        let sql = "WITH a AS (WITH inner_c AS (SELECT * FROM metrics) SELECT * FROM inner_c) SELECT * FROM inner_c";
        let found = refusals(sql);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .starts_with("`inner_c` is a with name used outside its scope")
        );
        assert_eq!(found[0].offset, sql.rfind("inner_c"));
        // Defined in a subquery in WHERE, used in the outer FROM.
        assert_refused(
            "SELECT * FROM w WHERE EXISTS (WITH w AS (SELECT 1) SELECT * FROM w)",
            "`w` is a with name used outside its scope",
            Some("w WHERE"),
        );
        // One side of a UNION does not see the other's WITH.
        assert_refused(
            "(WITH u AS (SELECT * FROM metrics) SELECT * FROM u) UNION ALL SELECT * FROM u",
            "`u` is a with name",
            None,
        );
        // A CTE sees only the CTEs before it.
        assert_refused(
            "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM metrics) SELECT * FROM a",
            "`b` is a with name",
            Some("b), b"),
        );
        // In scope: the body, later CTEs, and subqueries inside the defining query.
        assert_allowed(
            "WITH a AS (SELECT * FROM metrics), b AS (SELECT * FROM a) SELECT * FROM b JOIN a ON 1 = 1 WHERE EXISTS (SELECT 1 FROM a)",
        );
        assert_allowed(
            "WITH a AS (SELECT * FROM metrics) SELECT * FROM (SELECT * FROM a) AS t UNION SELECT * FROM a",
        );
        // A CTE named like an allowed table with an allowed body is fine.
        assert_allowed("WITH metrics AS (SELECT * FROM areas) SELECT * FROM metrics");
    }

    #[test]
    fn refuses_every_statement_that_is_not_a_query() {
        for (sql, name) in [
            ("CREATE TABLE t AS SELECT * FROM metrics", "create table"),
            (
                "CREATE TABLE t AS SELECT * FROM read_csv('/x')",
                "create table",
            ),
            ("DROP TABLE metrics", "drop table"),
            ("DELETE FROM metrics WHERE 1 = 1", "delete"),
            ("TRUNCATE TABLE metrics", "truncate"),
            ("TRUNCATE metrics", "truncate"),
            ("SHOW TABLES", "show tables"),
            ("EXPLAIN SELECT * FROM metrics", "explain"),
            ("INSERT INTO metrics VALUES (1)", "insert"),
            ("INSERT INTO metrics SELECT * FROM read_csv('/x')", "insert"),
            ("UPDATE metrics SET new_plans = 0", "update"),
            ("COPY metrics TO '/tmp/out.csv'", "copy"),
            ("SET search_path = x", "set"),
            ("USE other", "use"),
            ("CREATE VIEW v AS SELECT * FROM metrics", "create view"),
        ] {
            assert_refused(
                sql,
                &format!(
                    "`{name}` statement found; a report query must be a single select statement"
                ),
                Some(&sql[..4]),
            );
        }
    }

    #[test]
    fn exactly_one_statement() {
        assert_refused(
            "SELECT * FROM metrics; SELECT * FROM areas",
            "found 2 statements; a report query must be exactly one select statement",
            Some("SELECT * FROM areas"),
        );
        let found = refusals("SELECT * FROM metrics;\n DROP TABLE metrics");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].message.starts_with("`drop table`"));
        // One trailing semicolon is still one statement, as polars counts them.
        assert_allowed("SELECT * FROM metrics;");
        for sql in ["", "   ", "\n", "-- nothing here", "/* nothing */"] {
            assert_eq!(
                refusals(sql),
                vec![Refusal {
                    message:
                        "the query is empty; a report query must be exactly one select statement"
                            .to_owned(),
                    offset: None,
                }],
                "{sql:?}"
            );
        }
    }

    #[test]
    fn a_parse_error_is_one_refusal_with_the_parser_message() {
        let found = refusals("SELECT * FROM metrics WHERE month = = '2021-04'");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.starts_with("sql parser error: "),
            "{found:?}"
        );
        assert_eq!(found[0].offset, Some(36));
        let found = refusals("SELECT * FROM read_csv('/x'");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.starts_with("sql parser error: "),
            "{found:?}"
        );
        // `TABLE name` alone is not a statement to GenericDialect.
        assert!(
            refusals("TABLE metrics")[0]
                .message
                .starts_with("sql parser error")
        );
    }

    #[test]
    fn offsets_count_bytes_across_lines_and_multibyte_characters() {
        let sql = "SELECT 'é', '日本' AS x\n  FROM metrics m\r\n  JOIN read_csv('ü') r ON 1 = 1\n  JOIN \"ünknown\" u ON 1 = 1";
        let found = refusals(sql);
        assert_eq!(found.len(), 2);
        assert!(sql[found[0].offset.unwrap()..].starts_with("read_csv('ü')"));
        assert!(sql[found[1].offset.unwrap()..].starts_with("\"ünknown\""));
    }

    #[test]
    fn allows_realistic_report_queries() {
        for sql in [
            "SELECT m.month, m.area_short, m.new_plans FROM metrics m JOIN programmes p ON p.area_code = m.area_code WHERE m.template = 'all' AND m.area_level = 'stp' AND m.month >= '2020-01' ORDER BY m.month",
            "WITH latest AS (SELECT * FROM metrics WHERE month = '2023-03') SELECT area_name, active_plans FROM latest WHERE area_level = 'borough'",
            "SELECT month, active_plans, plans_per_1000_aged_75_plus FROM metrics WHERE area_code = 'E09000001' AND template = 'all' AND month = '2023-03'",
            "SELECT month, 'London Ambulance Service' AS service, views_las AS views FROM metrics WHERE area_level = 'london' AND template = 'all' UNION ALL SELECT month, 'NHS 111' AS service, views_111 AS views FROM metrics WHERE area_level = 'london' AND template = 'all' ORDER BY month",
            "SELECT COUNT(*) AS programmes, MIN(start) AS first_start FROM programmes",
            "SELECT p.area_code, m.area_short, p.target_monthly, m.new_plans, m.new_plans * 100.0 / p.target_monthly AS pct_of_target FROM programmes AS p JOIN metrics AS m ON m.area_code = p.area_code WHERE m.template = 'all' AND m.month = '2023-03' ORDER BY m.area_short",
            "SELECT area_name, active_plans, RANK() OVER (PARTITION BY parent_code ORDER BY active_plans DESC) AS place FROM metrics WHERE area_level = 'borough'",
            "SELECT month, SUM(new_plans) OVER (ORDER BY month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS rolling FROM metrics WHERE area_level = 'london' AND template = 'all'",
            "SELECT area_name, CASE WHEN active_plans > 1000 THEN 'high' WHEN active_plans > 100 THEN 'medium' ELSE 'low' END AS band FROM metrics",
            "SELECT * FROM metrics WHERE area_code IN (SELECT area_code FROM programmes)",
            "SELECT * FROM metrics WHERE area_code NOT IN (SELECT area_code FROM areas WHERE level = 'stp')",
            "SELECT * FROM metrics m WHERE EXISTS (SELECT 1 FROM programmes p WHERE p.area_code = m.area_code)",
            "SELECT area_name, (SELECT MAX(month) FROM metrics) AS latest FROM areas",
            "SELECT t.title, x.n FROM templates t JOIN (SELECT template, COUNT(*) AS n FROM metrics GROUP BY template) AS x ON x.template = t.id",
            "WITH a AS (SELECT area_code, MAX(active_plans) AS top FROM metrics GROUP BY area_code), b AS (SELECT * FROM a WHERE top > 10) SELECT areas.*, b.top FROM areas JOIN b ON b.area_code = areas.code",
            "SELECT * FROM metrics EXCEPT SELECT * FROM metrics WHERE template = 'all'",
            "SELECT * FROM ((metrics m JOIN areas a ON a.code = m.area_code))",
            "SELECT * FROM \"metrics\"",
            "SELECT * FROM `areas`",
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s)",
            "SELECT * FROM metrics WHERE month = $latest AND area_code = $area",
            "SELECT month, active_plans, FROM metrics",
            "SELECT /* a comment */ * FROM metrics -- another\n WHERE 1 = 1",
            "SELECT 1",
            "FROM metrics SELECT month",
        ] {
            assert_allowed(sql);
        }
    }

    #[test]
    fn allows_the_projects_current_reports() {
        // The queries of reports/*.yaml, with $area and $latest bound as the tool binds them.
        for sql in [
            "SELECT month, active_plans, plans_per_1000_aged_75_plus, plans_per_1000_adults, pct_change_active_vs_year_ago FROM metrics WHERE area_code = 'E09000001' AND template = 'all' AND month = '2023-03'",
            "SELECT template_title, active_plans, new_plans, pct_cpr_recorded, pct_preferred_place_recorded FROM metrics WHERE area_code = 'E09000001' AND template <> 'all' AND month = '2023-03' ORDER BY template_title",
            "SELECT month, 'London Ambulance Service' AS service, views_las_per_100_plans AS rate FROM metrics WHERE area_code = 'E09000001' AND template = 'all' UNION ALL SELECT month, 'NHS 111' AS service, views_111_per_100_plans AS rate FROM metrics WHERE area_code = 'E09000001' AND template = 'all' UNION ALL SELECT month, 'Out-of-hours GP' AS service, views_ooh_gp_per_100_plans AS rate FROM metrics WHERE area_code = 'E09000001' AND template = 'all' UNION ALL SELECT month, 'Emergency department' AS service, views_ed_per_100_plans AS rate FROM metrics WHERE area_code = 'E09000001' AND template = 'all' ORDER BY month",
            "SELECT name, area_name, start, target_monthly, new_plans_latest, pct_of_target_latest, mean_new_plans_6_months_before, mean_new_plans_6_months_after, pct_change_after_start FROM programmes ORDER BY start",
            "SELECT m.month, m.area_short, m.new_plans FROM metrics AS m WHERE m.area_level = 'stp' AND m.template = 'all' ORDER BY m.month, m.area_short",
            "SELECT area_code, area_name, active_plans, plans_per_1000_adults, plans_per_1000_aged_75_plus, pct_change_active_vs_year_ago FROM metrics WHERE parent_code = 'E54000027' AND template = 'all' AND month = NULL ORDER BY area_name",
        ] {
            assert_allowed(sql);
        }
    }

    #[test]
    fn long_chains_neither_overflow_the_stack_nor_slow_the_check() {
        // The parser loops over these, so they nest without its recursion limit.
        let started = std::time::Instant::now();
        let unions = vec!["SELECT * FROM metrics"; 20_000].join(" UNION ALL ");
        assert_allowed(&unions);
        let bad = format!("{unions} UNION ALL SELECT * FROM read_csv('/x')");
        assert_refused(
            &bad,
            "`read_csv` is a table function",
            Some("read_csv('/x')"),
        );
        let ors = format!(
            "SELECT * FROM metrics WHERE {}",
            vec!["a = 1"; 20_000].join(" OR ")
        );
        assert_refused(&ors, "nests more than 200 levels deep", None);
        let short = format!(
            "SELECT * FROM metrics WHERE {}",
            vec!["a = 1"; 100].join(" OR ")
        );
        assert_allowed(&short);
        // Subqueries at the bottom of such chains, in turn, count against the same limit
        // (40 levels of them would meet the parser's own recursion limit first).
        let mut nested = "SELECT * FROM metrics".to_owned();
        for _ in 0..12 {
            nested = format!(
                "SELECT * FROM metrics WHERE a IN ({nested}) {}",
                " OR a = 1".repeat(20)
            );
        }
        assert_refused(&nested, "nests more than 200 levels deep", None);
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    #[test]
    fn no_allowed_tables_refuses_every_table() {
        assert_eq!(check_query("SELECT 1", &[]), Ok(()));
        let found = check_query("SELECT * FROM metrics", &[]).unwrap_err();
        assert!(
            found[0]
                .message
                .contains("report queries may read no tables here")
        );
    }

    /// xorshift64*, fixed seed: the same cases on every run, no dev-dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    /// Builds random queries from the constructs above and knows whether each should pass:
    /// it should iff every table it names is allowed or a CTE in scope where it is used.
    struct Generator {
        rng: Rng,
        /// CTE names defined so far anywhere, in scope or not.
        defined: Vec<String>,
        counter: usize,
    }

    impl Generator {
        fn fresh(&mut self, prefix: &str) -> String {
            self.counter += 1;
            format!("{prefix}{}", self.counter)
        }

        fn disguised_function(&mut self) -> String {
            let name = self
                .rng
                .pick(&["read_csv", "read_parquet", "read_ipc", "read_json"]);
            let name: String = name
                .chars()
                .map(|c| {
                    if self.rng.chance(30) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            let name = match self.rng.below(4) {
                0 => format!("\"{name}\""),
                1 => format!("main.{name}"),
                _ => name,
            };
            let gap = self.rng.pick(&["", " ", " /* x */ ", "\n-- c\n", "/**/"]);
            format!("{name}{gap}('/some/extract/plans.file')")
        }

        /// A table reference and whether it is allowed here.
        fn table(&mut self, scope: &[String]) -> (String, bool) {
            let alias = if self.rng.chance(40) {
                format!(" AS {}", self.fresh("t"))
            } else {
                String::new()
            };
            let (name, ok) = match self.rng.below(20) {
                0..=6 => (
                    self.rng
                        .pick(&["metrics", "areas", "templates", "programmes"])
                        .to_owned(),
                    true,
                ),
                7 => (
                    format!(
                        "\"{}\"",
                        self.rng
                            .pick(&["metrics", "areas", "templates", "programmes"])
                    ),
                    true,
                ),
                8..=10 if !scope.is_empty() => (scope[self.rng.below(scope.len())].clone(), true),
                8..=11 => (self.disguised_function(), false),
                12 => (
                    self.rng
                        .pick(&["secrets", "METRICS", "Areas", "extract"])
                        .to_owned(),
                    false,
                ),
                13 => ("'/etc/passwd'".to_owned(), false),
                14 => ("public.metrics".to_owned(), false),
                15 => {
                    let hidden: Vec<&String> =
                        self.defined.iter().filter(|d| !scope.contains(d)).collect();
                    match hidden.as_slice() {
                        [] => ("nowhere".to_owned(), false),
                        names => (names[self.rng.below(names.len())].clone(), false),
                    }
                }
                _ => (
                    self.rng
                        .pick(&["metrics", "areas", "templates", "programmes"])
                        .to_owned(),
                    true,
                ),
            };
            (format!("{name}{alias}"), ok)
        }

        fn source(&mut self, scope: &[String], depth: usize) -> (String, bool) {
            if depth == 0 {
                return self.table(scope);
            }
            match self.rng.below(6) {
                0 | 1 => self.table(scope),
                2 => {
                    let (q, ok) = self.query(scope, depth - 1);
                    (format!("({q}) AS {}", self.fresh("d")), ok)
                }
                3 => {
                    let (a, ok_a) = self.source(scope, depth - 1);
                    let (b, ok_b) = self.source(scope, depth - 1);
                    let (c, ok_c) = self.condition(scope, depth - 1);
                    let b = nest(b);
                    (format!("({a} JOIN {b} ON {c})"), ok_a && ok_b && ok_c)
                }
                4 => {
                    let (a, ok_a) = self.source(scope, depth - 1);
                    let (q, ok_q) = self.query(scope, depth - 1);
                    let d = self.fresh("l");
                    (format!("{a} CROSS JOIN LATERAL ({q}) AS {d}"), ok_a && ok_q)
                }
                _ => {
                    let (a, ok_a) = self.source(scope, depth - 1);
                    let (b, ok_b) = self.source(scope, depth - 1);
                    let kind = self
                        .rng
                        .pick(&["JOIN", "LEFT JOIN", "INNER JOIN", "FULL JOIN"]);
                    let b = nest(b);
                    (format!("{a} {kind} {b} ON 1 = 1"), ok_a && ok_b)
                }
            }
        }

        fn condition(&mut self, scope: &[String], depth: usize) -> (String, bool) {
            if depth == 0 {
                return ("a = 1".to_owned(), true);
            }
            match self.rng.below(6) {
                0 => ("month >= '2020-01'".to_owned(), true),
                1 => {
                    let (q, ok) = self.query(scope, depth - 1);
                    (format!("a IN ({q})"), ok)
                }
                2 => {
                    let (q, ok) = self.query(scope, depth - 1);
                    (format!("NOT EXISTS ({q})"), ok)
                }
                3 => {
                    let (q, ok) = self.query(scope, depth - 1);
                    (format!("a > ({q})"), ok)
                }
                4 => {
                    let (x, ok_x) = self.condition(scope, depth - 1);
                    let (y, ok_y) = self.condition(scope, depth - 1);
                    (format!("({x} AND {y})"), ok_x && ok_y)
                }
                _ => {
                    let (q, ok) = self.query(scope, depth - 1);
                    (format!("CASE WHEN EXISTS ({q}) THEN 1 ELSE 0 END = 1"), ok)
                }
            }
        }

        fn select(&mut self, scope: &[String], depth: usize) -> (String, bool) {
            let (from, ok_from) = self.source(scope, depth);
            let (column, ok_column) = if depth > 0 && self.rng.chance(25) {
                let (q, ok) = self.query(scope, depth - 1);
                (format!("({q}) AS s"), ok)
            } else {
                ("*".to_owned(), true)
            };
            let (filter, ok_filter) = if self.rng.chance(50) {
                let (c, ok) = self.condition(scope, depth);
                (format!(" WHERE {c}"), ok)
            } else {
                (String::new(), true)
            };
            (
                format!("SELECT {column} FROM {from}{filter}"),
                ok_from && ok_column && ok_filter,
            )
        }

        fn query(&mut self, scope: &[String], depth: usize) -> (String, bool) {
            if depth == 0 {
                return self.select(scope, 0);
            }
            match self.rng.below(5) {
                0 | 1 => self.select(scope, depth),
                2 => {
                    let (a, ok_a) = self.select(scope, depth - 1);
                    let (b, ok_b) = self.select(scope, depth - 1);
                    let op = self
                        .rng
                        .pick(&["UNION", "UNION ALL", "EXCEPT", "INTERSECT"]);
                    // Operands unparenthesised: sqlparser 0.62 cannot parse
                    // `x > ((SELECT ..) UNION (SELECT ..))` in an expression.
                    (format!("{a} {op} {b}"), ok_a && ok_b)
                }
                3 => {
                    // WITH: each CTE sees the ones before it, the body sees all.
                    let mut inner = scope.to_vec();
                    let mut parts = Vec::new();
                    let mut ok = true;
                    for _ in 0..=self.rng.below(2) {
                        let name = if self.rng.chance(15) {
                            "metrics".to_owned()
                        } else {
                            self.fresh("c")
                        };
                        let (body, ok_body) = self.query(&inner, depth - 1);
                        ok &= ok_body;
                        parts.push(format!("{name} AS ({body})"));
                        self.defined.push(name.clone());
                        inner.push(name);
                    }
                    let (body, ok_body) = self.select(&inner, depth - 1);
                    (format!("WITH {} {body}", parts.join(", ")), ok && ok_body)
                }
                _ => {
                    let (q, ok) = self.query(scope, depth - 1);
                    (format!("SELECT * FROM (({q})) AS {}", self.fresh("p")), ok)
                }
            }
        }
    }

    /// `a JOIN b JOIN c ON .. ON ..` is not GenericDialect syntax: a join on the right of a
    /// join goes in parentheses.
    fn nest(item: String) -> String {
        if item.contains("JOIN") {
            format!("({item})")
        } else {
            item
        }
    }

    #[test]
    fn random_compositions_pass_iff_they_name_only_allowed_tables() {
        let mut generator = Generator {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            defined: Vec::new(),
            counter: 0,
        };
        let (mut allowed, mut refused) = (0, 0);
        for _ in 0..3000 {
            generator.defined.clear();
            let depth = generator.rng.below(4);
            let (sql, ok) = generator.query(&[], depth);
            let result = check_query(&sql, ALLOWED);
            assert_eq!(result.is_ok(), ok, "{sql}\n{result:?}");
            if let Err(found) = result {
                for refusal in &found {
                    assert!(
                        !refusal.message.starts_with("sql parser error"),
                        "the generator wrote bad SQL: {sql}\n{refusal:?}"
                    );
                    if let Some(offset) = refusal.offset {
                        assert!(sql.is_char_boundary(offset) && offset < sql.len(), "{sql}");
                    }
                }
                refused += 1;
            } else {
                allowed += 1;
            }
        }
        // Both sides are exercised in earnest.
        assert!(
            allowed > 500 && refused > 500,
            "{allowed} allowed, {refused} refused"
        );
    }
}
