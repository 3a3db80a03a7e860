DROP INDEX territorial_fund_okato;
DROP TABLE territorial_fund;
