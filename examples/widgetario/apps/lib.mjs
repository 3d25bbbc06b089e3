// The Widgetario apps' helpers: the example apps' kit (examples/lib). Node 20
// built-ins only (the database client `pg` is used by products-api alone).

export * from '../../lib/app-kit.mjs';
