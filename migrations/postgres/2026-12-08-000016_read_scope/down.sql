DROP INDEX account_decision_code_mo;
DROP INDEX account_decision_plat;
