s/[0-9a-zA-Z]{6}-[0-9a-zA-Z]{6}-[0-9a-zA-Z]{2}/ID/g
s/[A-Z][a-z][a-z], [0-9]+ [A-Z][a-z]+ [0-9]{4} [0-9:]{8} [+-][0-9]{4}/DATE/
s/^[0-9]{10} 0$/TIME 0/
s/^-received_time_usec .*/-received_time_usec USEC/
s/^-received_time_complete .*/-received_time_complete TIME/
