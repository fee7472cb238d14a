// Small language-level helpers every lib and app shares; nothing here does I/O or knows Plexus.
export * from './error-text';
export * from './sleep';
export * from './logger';
