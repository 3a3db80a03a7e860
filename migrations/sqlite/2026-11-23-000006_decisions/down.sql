DROP TABLE case_decision;
DROP TABLE account_decision;
