CREATE TABLE users (name TEXT, uid INTEGER, shell TEXT);
INSERT INTO users VALUES ('alice', 1001, '/bin/bash');
INSERT INTO users VALUES ('bob', 1002, '/bin/sh');
INSERT INTO users VALUES ('carol', 1003, NULL);
INSERT INTO users VALUES ('o''brien', 1004, '/bin/zsh');
CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
INSERT INTO kv VALUES ('greeting', 'hello world');
INSERT INTO kv VALUES ('empty', '');
INSERT INTO kv VALUES ('multi', 'line1
line2');
