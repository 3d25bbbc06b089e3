-- The products database of Widgetario: schema and seed data, loaded by
-- products-db.mjs into a fresh cluster at every start (PostgreSQL single-user
-- mode with -j: every statement ends with a semicolon and a blank line).

CREATE TABLE products (
  id          integer PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL,
  price       numeric(10, 2) NOT NULL CHECK (price >= 0)
);

INSERT INTO products (id, name, description, price) VALUES
  (1, 'Arm64 SBC', 'A single-board computer with a 64-bit ARM CPU', 94.99),
  (2, 'Portable Monitor', 'A 15.6-inch USB-C display', 249.00),
  (3, 'Slim Keyboard', 'A low-profile wireless keyboard', 59.50),
  (4, 'Travel Mouse', 'A small Bluetooth mouse', 24.99);

