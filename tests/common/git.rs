//! Builds git history in fixture repositories with git2: commits with chosen authors and
//! messages, branches and merges.

use std::path::Path;

use git2::{IndexAddOption, Oid, Repository, Signature, Time};

pub struct Git {
    pub repo: Repository,
    /// Seconds since the epoch for the next commit; each commit is a day later.
    clock: i64,
}

impl Git {
    pub fn init(root: &Path) -> Git {
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = Repository::init_opts(root, &options).unwrap();
        let mut config = repo.config().unwrap();
        config.set_str("user.name", "Work Tree Editor").unwrap();
        config
            .set_str("user.email", "editor@example.nhs.uk")
            .unwrap();
        Git {
            repo,
            clock: 1_700_000_000,
        }
    }

    /// Commits every file in the work tree as `author` (name <email>) with `message`.
    pub fn commit(&mut self, author: &str, message: &str) -> Oid {
        let (name, email) = author
            .split_once(" <")
            .map(|(n, e)| (n, e.trim_end_matches('>')))
            .unwrap();
        self.clock += 86_400;
        let signature = Signature::new(name, email, &Time::new(self.clock, 0)).unwrap();
        let mut index = self.repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> = self
            .repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &parent_refs,
            )
            .unwrap()
    }

    /// Creates `name` at HEAD and checks it out.
    pub fn branch(&self, name: &str) {
        let head = self.repo.head().unwrap().peel_to_commit().unwrap();
        self.repo.branch(name, &head, true).unwrap();
        self.checkout(name);
    }

    pub fn checkout(&self, name: &str) {
        let reference = format!("refs/heads/{name}");
        let object = self.repo.revparse_single(&reference).unwrap();
        self.repo
            .checkout_tree(&object, Some(git2::build::CheckoutBuilder::new().force()))
            .unwrap();
        self.repo.set_head(&reference).unwrap();
    }

    /// Merges branch `other` into the current branch with a merge commit (no conflicts expected).
    pub fn merge(&mut self, other: &str, author: &str) -> Oid {
        let ours = self.repo.head().unwrap().peel_to_commit().unwrap();
        let theirs = self
            .repo
            .revparse_single(&format!("refs/heads/{other}"))
            .unwrap()
            .peel_to_commit()
            .unwrap();
        let mut index = self.repo.merge_commits(&ours, &theirs, None).unwrap();
        assert!(!index.has_conflicts());
        let tree = self
            .repo
            .find_tree(index.write_tree_to(&self.repo).unwrap())
            .unwrap();
        let (name, email) = author
            .split_once(" <")
            .map(|(n, e)| (n, e.trim_end_matches('>')))
            .unwrap();
        self.clock += 86_400;
        let signature = Signature::new(name, email, &Time::new(self.clock, 0)).unwrap();
        let oid = self
            .repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                &format!("Merge {other}"),
                &tree,
                &[&ours, &theirs],
            )
            .unwrap();
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .unwrap();
        oid
    }
}
