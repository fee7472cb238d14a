/**
 * The `properties-file` package publishes its parser and escaper only as `exports` subpaths,
 * which this repository's `moduleResolution` (node10, from `module: commonjs`) does not read;
 * these declarations point the compiler at the package's own types. Node and Jest resolve the
 * subpaths themselves.
 */
declare module 'properties-file/parser' {
  export * from 'properties-file/dist/cjs/parser/index';
}
declare module 'properties-file/escape' {
  export * from 'properties-file/dist/cjs/escape/index';
}
