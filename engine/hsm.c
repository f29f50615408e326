typedef int estca_placeholder;
