//! Lets `scripts/prepare-queries` compile one database's queries at a time:
//! sqlx checks every `query!` against the one database `DATABASE_URL` names,
//! so while it records the other database's queries, this one's module is
//! left out (`CHAT_PREPARE_QUERIES=sqlite|postgres`). Normal builds read the
//! committed `.sqlx/` data for both and set nothing here.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(prepare_queries, values(\"sqlite\", \"postgres\"))");
    println!("cargo::rerun-if-env-changed=CHAT_PREPARE_QUERIES");
    if let Ok(database) = std::env::var("CHAT_PREPARE_QUERIES") {
        println!("cargo::rustc-cfg=prepare_queries=\"{database}\"");
    }
}
