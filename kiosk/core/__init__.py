"""The rules of a transaction: pure logic, no Qt."""
