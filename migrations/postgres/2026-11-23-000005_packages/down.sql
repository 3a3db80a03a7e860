DROP TABLE package_case;
DROP TABLE package;
