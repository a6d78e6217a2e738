// Public API of resolver/: the pure PubGrub solver, its provider interface, the lockfile model.
export {};
