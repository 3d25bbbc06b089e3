// The SplitDim apps' helpers: the example apps' kit (examples/lib). Node 20
// built-ins only: no dependencies, no build step.

export * from '../../lib/app-kit.mjs';
