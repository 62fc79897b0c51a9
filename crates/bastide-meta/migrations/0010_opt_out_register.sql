-- A token that changes with every change to the opt-out register, in the same
-- transaction: a hub process keeps the register in memory and reads it again only
-- when the token it holds is no longer the current one.
CREATE TABLE opt_out_register (
    singleton   BIGINT  PRIMARY KEY CHECK (singleton = 1),
    token       TEXT    NOT NULL
);
INSERT INTO opt_out_register (singleton, token) VALUES (1, 'initial');
